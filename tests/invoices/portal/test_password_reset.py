"""Password reset through Django's views at /accounts/, on the portal's own pages."""

import pytest
from django.conf import settings
from django.core import mail

from accounts.services import customer_user_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_the_login_page_links_to_forgot_password(client):
    html = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in html and "Forgot password?" in html


def test_a_customer_user_resets_their_password_by_email(client):
    customer_user_create(customer=CustomerFactory(), username="grace", password="old-pass-123",
                         email="grace@example.test")
    page = client.get("/accounts/password_reset/")
    assert page.status_code == 200 and "Forgot your password?" in page.content.decode()

    sent = client.post("/accounts/password_reset/", {"email": "grace@example.test"}, follow=True)
    assert "Check your email" in sent.content.decode()
    (message,) = mail.outbox
    assert message.subject == "Choose a new password for the billing portal"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL and "grace" in message.body
    link = next(w for w in message.body.split() if w.startswith("http://testserver/"))

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "new-pass-phrase-9",
                                                    "new_password2": "new-pass-phrase-9"},
                       follow=True)
    assert "Your password is set" in done.content.decode()
    assert client.login(username="grace", password="new-pass-phrase-9")
    client.logout()
    used = client.get(link, follow=True)
    assert "This link no longer works" in used.content.decode()


def test_an_unknown_address_reads_the_same_and_sends_nothing(client):
    sent = client.post("/accounts/password_reset/", {"email": "nobody@example.test"}, follow=True)
    assert "Check your email" in sent.content.decode() and mail.outbox == []


def test_the_demo_prints_mail_on_the_console_unless_told_otherwise():
    from billing_site import settings as site_settings
    assert site_settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"
