"""Who may call the customer and seat routes: only admin-scope keys.

No key, a wrong key or a revoked key is a 401; an ingest key is a 403; and a refused
call writes nothing.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from tests.factories import CustomerFactory, SeatFactory, row_counts

pytestmark = pytest.mark.django_db

SEAT = {"email": "new@acme.test", "active_from": "2026-10-01T00:00:00Z"}
CUSTOMER = {"external_id": "new", "name": "New", "email": "billing@new.test"}

ROUTES = [
    ("get", "/api/v1/customers", None, 200),
    ("post", "/api/v1/customers", CUSTOMER, 201),
    ("get", "/api/v1/customers/acme", None, 200),
    ("patch", "/api/v1/customers/acme", {"name": "Acme 2"}, 200),
    ("get", "/api/v1/customers/acme/seats", None, 200),
    ("post", "/api/v1/customers/acme/seats", SEAT, 201),
    ("get", "/api/v1/customers/acme/seats/{seat}", None, 200),
    ("patch", "/api/v1/customers/acme/seats/{seat}", {"name": "Alice B"}, 200),
]


@pytest.fixture
def seat_id():
    return SeatFactory(customer=CustomerFactory(external_id="acme"), email="alice@acme.test").pk


def client_with(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def revoked_key() -> str:
    key, raw = api_key_create(name="old", scope=ApiKey.Scope.ADMIN)
    api_key_revoke(key=key, now=timezone.now())
    return raw


def call(client, method, path, body, seat_id):
    return getattr(client, method)(path.format(seat=seat_id), body, format="json")


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
@pytest.mark.parametrize("who", ["no key", "wrong key", "revoked key", "malformed header"])
def test_without_a_valid_key_the_answer_is_401_and_nothing_changes(
    seat_id, method, path, body, ok, who
):
    if who == "malformed header":
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION="Token abc")
    else:
        raw = {"no key": None, "wrong key": "bk_admin_00000000_nope",
               "revoked key": revoked_key()}[who]
        client = client_with(raw)
    before = row_counts()
    response = call(client, method, path, body, seat_id)
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()
    assert row_counts() == before


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
def test_ingest_key_is_403_and_nothing_changes(seat_id, ingest_api, method, path, body, ok):
    before = row_counts()
    response = call(ingest_api, method, path, body, seat_id)
    assert response.status_code == 403, response.content
    assert "admin" in response.json()["detail"]
    assert row_counts() == before


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
def test_admin_key_may_use_every_route(seat_id, api, method, path, body, ok):
    response = call(api, method, path, body, seat_id)
    assert response.status_code == ok, response.content
