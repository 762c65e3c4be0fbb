"""Hostile numbers and dates are a 400 naming the field on every route, never a 500:
page limits and offsets on every list, seat times outside 1970–2200."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import get_resolver
from rest_framework.generics import ListAPIView

from accounts.models import Seat
from common.api.pagination import BoundedLimitOffsetPagination
from tests.factories import ContractFactory, CustomerFactory, PlanFactory, SeatFactory, make_version

pytestmark = pytest.mark.django_db

LIST_ROUTES = [
    "/api/v1/customers", "/api/v1/customers/acme/seats", "/api/v1/metrics", "/api/v1/plans",
    "/api/v1/plans/team/versions", "/api/v1/contracts", "/api/v1/contracts/{contract}/migrations",
    "/api/v1/invoices", "/api/v1/billing-runs",
]


@pytest.fixture
def catalog():
    customer = CustomerFactory(external_id="acme")
    version = make_version(plan=PlanFactory(code="team"))
    return ContractFactory(customer=customer, plan_version=version)


def routes(contract) -> list[str]:
    return [route.format(contract=contract.pk) for route in LIST_ROUTES]


def list_views() -> set[type]:
    found: set[type] = set()

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns)
            elif (cls := getattr(pattern.callback, "cls", None)) and issubclass(cls, ListAPIView):
                found.add(cls)

    walk(get_resolver().url_patterns)
    return found


def test_every_list_route_is_covered_here_and_uses_the_bounded_paginator():
    views = {view for view in list_views() if view.schema is not None}  # not the slash twins
    assert len(views) == len(LIST_ROUTES)
    assert all(view().paginator.__class__ is BoundedLimitOffsetPagination for view in views)


@pytest.mark.parametrize(
    "query",
    ["limit=9223372036854775808", "limit=1001", "limit=0", "limit=-1", "limit=ten",
     "limit=1e3", "limit=%00"],
)
def test_a_page_limit_out_of_range_is_refused_on_every_list(api, catalog, query):
    for route in routes(catalog):
        response = api.get(f"{route}?{query}")
        assert response.status_code == 400, (route, response.content)
        assert list(response.json()["errors"]) == ["limit"], route
        assert "1000" in response.json()["errors"]["limit"][0]


@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=-1", "offset=x",
                                   "offset=2147483648"])
def test_a_page_offset_out_of_range_is_refused_on_every_list(api, catalog, query):
    for route in routes(catalog):
        response = api.get(f"{route}?{query}")
        assert response.status_code == 400, (route, response.content)
        assert list(response.json()["errors"]) == ["offset"], route


def test_a_page_of_at_most_1000_is_served(api, catalog):
    for route in routes(catalog):
        response = api.get(f"{route}?limit=1000&offset=2147483647")
        assert response.status_code == 200, (route, response.content)
        assert response.json()["results"] == []
    assert api.get("/api/v1/customers?limit=1").json()["count"] == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"active_from": "0376-05-01T00:00:00Z"}, "active_from"),
        ({"active_from": "1969-12-31T23:59:59Z"}, "active_from"),
        ({"active_until": "9999-12-31T23:00:00-05:00"}, "active_until"),
        ({"active_until": "2201-01-01T00:00:00Z"}, "active_until"),
    ],
)
def test_seat_times_outside_the_supported_years_are_refused(api, changes, field):
    CustomerFactory(external_id="acme")
    body = {"email": "a@acme.test", "active_from": "2026-10-01T00:00:00Z", **changes}
    response = api.post("/api/v1/customers/acme/seats", body, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == [field]
    assert Seat.objects.count() == 0


def test_seat_times_with_odd_offsets_are_stored_and_shown_in_utc(api):
    CustomerFactory(external_id="acme")
    response = api.post("/api/v1/customers/acme/seats",
                        {"email": "a@acme.test", "active_from": "2026-10-01T05:30:15+05:30:15"},
                        format="json")
    assert response.status_code == 201, response.content
    assert response.json()["active_from"] == "2026-10-01T00:00:00Z"


def test_seat_patch_to_year_376_is_refused(api):
    seat = SeatFactory(customer=CustomerFactory(external_id="acme"),
                       active_from=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    response = api.patch(f"/api/v1/customers/acme/seats/{seat.pk}",
                         {"active_from": "0376-10-01T00:00:00Z"}, format="json")
    assert response.status_code == 400 and "active_from" in response.json()["errors"]


def test_a_seat_path_id_beyond_bigint_is_a_404(api):
    CustomerFactory(external_id="acme")
    assert api.get("/api/v1/customers/acme/seats/9223372036854775808").status_code == 404
