"""Styled 403 and 404 pages outside /api/ that say what to do; JSON errors under /api/."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@override_settings(DEBUG=False)
def test_a_404_page_says_to_go_back_or_log_in_as_someone_else(acme_viewer):
    response = acme_viewer.get("/invoices/00000000-0000-0000-0000-000000000000/")
    html = response.content.decode()
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    assert "Go back to your dashboard" in html and "log in as a user of that account" in html


@override_settings(DEBUG=False)
def test_a_403_page_says_who_may_do_it(acme_viewer):
    response = acme_viewer.post("/team/invite/", {"email": "x@example.test"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Only an admin of your customer can change this." in html
    assert "log in as another user" in html


@override_settings(DEBUG=False)
def test_api_paths_keep_their_json_errors(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404 and response.json() == {"detail": "No API route /api/v1/nope."}


@override_settings(DEBUG=False)
def test_an_unknown_page_for_an_anonymous_visitor_offers_the_login(client):
    html = client.get("/no-such-page/").content.decode()
    assert "Log in</a> and try again" in html


def test_a_form_without_its_csrf_token_gets_a_page_that_says_to_reload():
    from django.test import Client
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "reload the page and send the form again" in html and "CSRF" in html
