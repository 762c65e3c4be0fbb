"""Inviting a colleague: a viewer login named by their email, and one email with a link
that sets their password (Django's password-reset token)."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from accounts.models import CustomerUser
from accounts.services import customer_user_invite
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)


def _link(*, uidb64: str, token: str) -> str:
    return f"https://billing.test/reset/{uidb64}/{token}/"


def test_invite_makes_a_viewer_and_emails_a_working_set_password_link(
        django_capture_on_commit_callbacks):
    customer = CustomerFactory(name="Acme")
    with django_capture_on_commit_callbacks(execute=True):
        membership = customer_user_invite(customer=customer, email=" Bob@Example.TEST ",
                                          name="Bob Stone", set_password_url=_link, now=NOW)

    user = membership.user
    assert membership.role == CustomerUser.Role.VIEWER and membership.customer == customer
    assert user.username == user.email == "bob@example.test"
    assert (user.first_name, user.last_name) == ("Bob", "Stone")
    assert user.date_joined == NOW and user.has_usable_password()
    (message,) = mail.outbox
    assert message.to == ["bob@example.test"] and "Acme" in message.subject
    link = next(word for word in message.body.split() if word.startswith("https://"))
    uidb64, token = link.rstrip("/").split("/")[-2:]
    assert int(force_str(urlsafe_base64_decode(uidb64))) == user.pk
    assert default_token_generator.check_token(user, token)


def test_no_email_leaves_before_the_transaction_commits():
    customer_user_invite(customer=CustomerFactory(), email="carol@example.test",
                         set_password_url=_link, now=NOW)
    assert mail.outbox == []  # the test's transaction never commits


def test_an_email_with_a_login_already_is_refused_by_the_unique_username():
    get_user_model().objects.create_user("dave@example.test")
    with pytest.raises(ValidationError) as error:
        customer_user_invite(customer=CustomerFactory(), email="DAVE@example.test",
                             set_password_url=_link, now=NOW)
    assert "already has a login" in str(error.value.message_dict["email"])
    assert CustomerUser.objects.count() == 0


def test_a_malformed_address_is_refused():
    with pytest.raises(ValidationError) as error:
        customer_user_invite(customer=CustomerFactory(), email="not an email",
                             set_password_url=_link, now=NOW)
    assert "email" in error.value.message_dict
    assert get_user_model().objects.count() == 0
