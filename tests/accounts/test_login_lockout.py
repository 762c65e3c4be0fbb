"""Login lockout (django-axes) on the admin and the customer login."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import authenticate, get_user_model
from django.test import Client, RequestFactory, override_settings

from accounts.lockout import client_ip
from accounts.services import customer_user_create
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
CUSTOMER_LOGIN = "/accounts/login/"
OPS_PASSWORD = "ops-Right-pass-1"
VIEWER_PASSWORD = "viewer-Right-pass-1"
LIMIT = 5
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def ops(db):
    return get_user_model().objects.create_superuser("ops", "ops@vendor.test", OPS_PASSWORD)


@pytest.fixture
def viewer(db):
    return customer_user_create(customer=CustomerFactory(external_id="acme"), username="viewer",
                                password=VIEWER_PASSWORD).user


def post_login(client: Client, path: str, username: str, password: str, ip: str = "203.0.113.7"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, path: str, username: str, times: int, ip: str = "203.0.113.7") -> list[int]:
    return [post_login(client, path, username, "wrong-password", ip).status_code for _ in range(times)]


@pytest.mark.parametrize(("path", "username", "password", "user"), [
    (ADMIN_LOGIN, "ops", OPS_PASSWORD, "ops"),
    (CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD, "viewer"),
], ids=["admin", "customer"])
def test_limit_failures_lock_the_login_so_even_the_right_password_is_refused(
        request, client, path, username, password, user):
    request.getfixturevalue(user)

    assert fail(client, path, username, LIMIT) == [200] * (LIMIT - 1) + [429]
    refused = post_login(client, path, username, password)

    assert refused.status_code == 429
    assert not logged_in(client)
    assert "Too many failed logins" in refused.content.decode()


def test_locked_out_page_says_what_happened_and_what_to_do(client, ops):
    fail(client, ADMIN_LOGIN, "ops", LIMIT)
    response = post_login(client, ADMIN_LOGIN, "ops", OPS_PASSWORD)
    html = response.content.decode()

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    assert "<strong>ops</strong>" in html and f"after {LIMIT} wrong passwords" in html
    assert "wait 15 minutes" in html
    assert "axes_reset_username ops" in html  # the ops unlock path, on the admin login
    assert "<nav" in html and "--accent" in html  # the site's own page, not a bare string


def test_customer_locked_out_page_sends_the_customer_to_support_not_to_the_admin(client, viewer):
    fail(client, CUSTOMER_LOGIN, "viewer", LIMIT)
    html = post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).content.decode()

    assert "Contact your billing support" in html
    assert "axes_reset_username" not in html


def test_lockout_is_per_username_and_address_so_one_address_cannot_lock_out_everyone(
        client, ops, viewer):
    fail(client, ADMIN_LOGIN, "ops", LIMIT, ip="203.0.113.7")

    other_address = Client()
    assert post_login(other_address, ADMIN_LOGIN, "ops", OPS_PASSWORD, ip="198.51.100.9").status_code == 302
    same_address = Client()
    assert post_login(same_address, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD,
                      ip="203.0.113.7").status_code == 302
    assert logged_in(other_address) and logged_in(same_address)


def test_a_successful_login_resets_the_failure_count(client, viewer):
    fail(client, CUSTOMER_LOGIN, "viewer", LIMIT - 1)
    assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 302
    client.logout()

    assert fail(client, CUSTOMER_LOGIN, "viewer", LIMIT - 1) == [200] * (LIMIT - 1)
    assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 302
    assert logged_in(client)


def test_the_admin_unlock_action_restores_access(client, ops, viewer):
    fail(client, CUSTOMER_LOGIN, "viewer", LIMIT)
    attempt = AccessAttempt.objects.get(username="viewer")
    staff = Client()
    staff.force_login(ops)

    response = staff.post("/admin/axes/accessattempt/",
                          {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True)

    assert "Unlocked 1 login record(s): viewer from 203.0.113.7." in response.content.decode()
    assert not AccessAttempt.objects.filter(username="viewer").exists()
    assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 302


def test_the_access_attempts_list_shows_who_is_locked_out(client, ops, viewer):
    fail(client, CUSTOMER_LOGIN, "viewer", LIMIT)
    staff = Client()
    staff.force_login(ops)

    html = staff.get("/admin/axes/accessattempt/?locked_out=yes").content.decode()

    assert "viewer" in html and "203.0.113.7" in html and "Unlock" in html


def test_the_lock_lifts_after_the_cool_off_and_each_refused_try_restarts_it(client, viewer):
    with time_machine.travel(NOW, tick=False) as clock:
        fail(client, CUSTOMER_LOGIN, "viewer", LIMIT)
        clock.shift(dt.timedelta(minutes=10))
        assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 429
        clock.shift(dt.timedelta(minutes=14))  # 24 min after the lock, 14 after the last try
        assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 429
        clock.shift(dt.timedelta(minutes=15, seconds=1))

        assert post_login(client, CUSTOMER_LOGIN, "viewer", VIEWER_PASSWORD).status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_failure_limit_is_a_setting(client, viewer):
    assert fail(client, CUSTOMER_LOGIN, "viewer", 2) == [200, 429]


def test_authenticating_without_a_request_is_not_counted_nor_refused(viewer):
    # The shell and management commands: no remote client to throttle.
    for _ in range(LIMIT + 1):
        assert authenticate(username="viewer", password="wrong-password") is None
    assert authenticate(username="viewer", password=VIEWER_PASSWORD) == viewer
    assert not AccessAttempt.objects.exists()


@override_settings(LOGIN_CLIENT_IP_HEADER="X-Real-IP")
def test_the_client_address_comes_from_the_proxy_header_when_configured_and_valid():
    factory = RequestFactory()

    assert client_ip(factory.get("/", HTTP_X_REAL_IP="198.51.100.4", REMOTE_ADDR="127.0.0.1")) == "198.51.100.4"
    assert client_ip(factory.get("/", HTTP_X_REAL_IP="1.2.3.4, 5.6.7.8", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"
    assert client_ip(factory.get("/", REMOTE_ADDR="127.0.0.1")) == "127.0.0.1"


def test_the_client_address_ignores_forwarding_headers_by_default():
    request = RequestFactory().get("/", HTTP_X_REAL_IP="198.51.100.4", REMOTE_ADDR="10.0.0.2")

    assert client_ip(request) == "10.0.0.2"
