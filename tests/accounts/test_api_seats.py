"""Seats over HTTP, nested under their customer."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import Seat
from tests.factories import CustomerFactory, SeatFactory, row_counts

pytestmark = pytest.mark.django_db

ALICE = {"email": "alice@acme.test", "name": "Alice", "active_from": "2026-10-01T00:00:00Z",
         "active_until": None}


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_create_seat_as_in_the_spec(api, acme):
    response = api.post("/api/v1/customers/acme/seats", ALICE, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer"] == "acme"
    assert body["email"] == "alice@acme.test"
    assert body["active_from"] == "2026-10-01T00:00:00Z"
    assert body["active_until"] is None
    seat = Seat.objects.get(pk=body["id"])
    assert seat.active_from == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)


def test_times_are_returned_in_utc_with_z(api, acme):
    response = api.post("/api/v1/customers/acme/seats",
                        {**ALICE, "active_from": "2026-10-01T02:00:00+02:00"}, format="json")
    assert response.json()["active_from"] == "2026-10-01T00:00:00Z"


def test_list_seats_of_one_customer_only(api, acme):
    SeatFactory(customer=acme, email="a@acme.test")
    SeatFactory(email="b@other.test")
    body = api.get("/api/v1/customers/acme/seats").json()
    assert [s["email"] for s in body["results"]] == ["a@acme.test"]


def test_seats_of_unknown_customer_are_404(api):
    assert api.get("/api/v1/customers/nobody/seats").status_code == 404
    assert api.post("/api/v1/customers/nobody/seats", ALICE, format="json").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"active_from": "yesterday"}, "active_from"),
        ({"active_from": None}, "active_from"),
        ({"active_until": "2026-09-01T00:00:00Z"}, "active_until"),  # before active_from
        ({"active_until": "2026-10-01T00:00:00Z"}, "active_until"),  # empty interval
        ({"role": "admin"}, "role"),
        ({"customer": "other"}, "customer"),
    ],
)
def test_bad_seat_is_refused_naming_the_field_and_nothing_is_written(api, acme, changes, field):
    before = row_counts()
    response = api.post("/api/v1/customers/acme/seats", {**ALICE, **changes}, format="json")
    assert_refused(response, field)
    assert row_counts() == before


def test_overlapping_seat_of_the_same_email_is_refused(api, acme):
    SeatFactory(customer=acme, email="alice@acme.test",
                active_from=dt.datetime(2026, 9, 1, tzinfo=dt.UTC), active_until=None)
    before = row_counts()
    response = api.post("/api/v1/customers/acme/seats",
                        {**ALICE, "email": "Alice@Acme.test"}, format="json")
    assert_refused(response, "active_from")
    assert "overlaps" in response.json()["errors"]["active_from"][0]
    assert row_counts() == before


def test_same_email_again_after_the_first_seat_ended_is_fine(api, acme):
    SeatFactory(customer=acme, email="alice@acme.test",
                active_from=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
                active_until=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert api.post("/api/v1/customers/acme/seats", ALICE, format="json").status_code == 201


def test_patch_ends_a_seat(api, acme):
    seat = SeatFactory(customer=acme, email="alice@acme.test")
    response = api.patch(f"/api/v1/customers/acme/seats/{seat.pk}",
                         {"active_until": "2026-10-22T00:00:00Z"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["active_until"] == "2026-10-22T00:00:00Z"
    seat.refresh_from_db()
    assert seat.active_until == dt.datetime(2026, 10, 22, tzinfo=dt.UTC)


def test_seat_of_another_customer_is_404(api, acme):
    other = SeatFactory(customer=CustomerFactory(external_id="globex"))
    response = api.patch(f"/api/v1/customers/acme/seats/{other.pk}", {"name": "X"}, format="json")
    assert response.status_code == 404
    assert api.get(f"/api/v1/customers/acme/seats/{other.pk}").status_code == 404
    other.refresh_from_db()
    assert other.name != "X"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"active_until": "2025-01-01T00:00:00Z"}, "active_until"),
        ({"email": "bob@acme.test"}, "active_from"),  # would overlap Bob's seat
        ({"email": ""}, "email"),
        ({"id": 5}, "id"),
        ({"seat": 5}, "seat"),
    ],
)
def test_bad_seat_patch_is_refused_and_changes_nothing(api, acme, changes, field):
    SeatFactory(customer=acme, email="bob@acme.test")
    seat = SeatFactory(customer=acme, email="alice@acme.test")
    response = api.patch(f"/api/v1/customers/acme/seats/{seat.pk}", changes, format="json")
    assert_refused(response, field)
    seat.refresh_from_db()
    assert (seat.email, seat.active_until) == ("alice@acme.test", None)
