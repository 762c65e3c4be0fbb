"""The Team page: every user of the customer reads it; only a customer admin invites."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from accounts.models import CustomerUser

pytestmark = pytest.mark.django_db


def test_viewers_read_the_team_but_get_no_invite_form(acme_viewer):
    html = acme_viewer.get("/team/").content.decode()
    assert "acme-viewer" in html and "Viewer" in html
    assert 'id="invite"' not in html and "Only an admin" in html


def test_a_viewer_posting_an_invite_is_refused_with_a_403_page(acme_viewer):
    response = acme_viewer.post("/team/invite/", {"email": "eve@example.test"})
    assert response.status_code == 403
    assert "Go back to your dashboard" in response.content.decode()
    assert not get_user_model().objects.filter(username="eve@example.test").exists()


def test_an_admin_invites_a_colleague_who_sets_a_password_and_logs_in(
        acme_admin, client, django_capture_on_commit_callbacks):
    assert 'id="invite"' in acme_admin.get("/team/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = acme_admin.post("/team/invite/", {"email": "frank@example.test",
                                                     "name": "Frank"}, follow=True)

    assert "Invited frank@example.test as a viewer" in response.content.decode()
    assert "frank@example.test" in response.content.decode()
    membership = CustomerUser.objects.get(user__username="frank@example.test")
    assert membership.role == CustomerUser.Role.VIEWER
    (message,) = mail.outbox
    link = next(w for w in message.body.split() if w.startswith("http://testserver/"))

    form = client.get(link, follow=True)  # Django swaps the token for a session
    assert form.context["validlink"]
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-long-pass-phrase",
                                                    "new_password2": "a-long-pass-phrase"})
    assert done.status_code == 302
    assert client.login(username="frank@example.test", password="a-long-pass-phrase")


def test_an_invite_for_an_existing_login_says_so(acme_admin):
    get_user_model().objects.create_user("taken@example.test")
    response = acme_admin.post("/team/invite/", {"email": "taken@example.test"})
    assert response.status_code == 400
    assert "already has a login" in response.content.decode()


def test_another_customers_admin_sees_only_their_own_team(globex_admin, acme_viewer):
    html = globex_admin.get("/team/").content.decode()
    assert "globex-admin" in html and "acme-viewer" not in html


def test_invite_is_post_only(acme_admin):
    assert acme_admin.get("/team/invite/").status_code == 405
