"""Customers over HTTP: create, read, filter, change; every refusal names its field."""

from __future__ import annotations

import pytest

from accounts.models import Customer
from tests.factories import ContractFactory, CustomerFactory, row_counts

pytestmark = pytest.mark.django_db

ACME = {"external_id": "acme", "name": "Acme", "email": "billing@acme.test", "currency": "USD"}


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert field in body["errors"], body


def test_create_customer_returns_it_with_its_external_id(api):
    response = api.post("/api/v1/customers", ACME, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["external_id"] == "acme"
    assert body["currency"] == "USD"
    assert body["archived"] is False
    assert body["created_at"].endswith("Z")
    assert "id" not in body
    assert Customer.objects.get(external_id="acme").email == "billing@acme.test"


def test_create_customer_defaults_currency_to_usd(api):
    body = {k: v for k, v in ACME.items() if k != "currency"}
    assert api.post("/api/v1/customers", body, format="json").json()["currency"] == "USD"


def test_trailing_slash_is_accepted(api):
    assert api.post("/api/v1/customers/", ACME, format="json").status_code == 201
    assert api.get("/api/v1/customers/acme/").status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"external_id": "acme"}, "external_id"),  # duplicate of the existing one
        ({"external_id": "has space"}, "external_id"),
        ({"external_id": ""}, "external_id"),
        ({"email": "not-an-email"}, "email"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "usd"}, "currency"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"archived": "perhaps"}, "archived"),
        ({"plan": "team"}, "plan"),  # unknown field
    ],
)
def test_bad_customer_is_refused_naming_the_field_and_nothing_is_written(api, changes, field):
    CustomerFactory(external_id="acme")
    before = row_counts()
    response = api.post("/api/v1/customers", {**ACME, **changes}, format="json")
    assert_refused(response, field)
    assert row_counts() == before


def test_missing_fields_are_each_named(api):
    response = api.post("/api/v1/customers", {}, format="json")
    assert_refused(response, "external_id")
    assert {"external_id", "name", "email"} <= set(response.json()["errors"])


def test_malformed_json_is_a_400(api):
    response = api.post("/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code == 400


def test_get_customer(api):
    CustomerFactory(external_id="acme", name="Acme")
    body = api.get("/api/v1/customers/acme").json()
    assert body["name"] == "Acme"


def test_unknown_customer_is_404(api):
    response = api.get("/api/v1/customers/nobody")
    assert response.status_code == 404
    assert "nobody" in response.json()["detail"]
    assert api.patch("/api/v1/customers/nobody", {"name": "X"}, format="json").status_code == 404


def test_list_is_paginated_and_filters_by_search_and_archived(api):
    CustomerFactory(external_id="acme", name="Acme")
    CustomerFactory(external_id="globex", name="Globex", archived=True)
    CustomerFactory(external_id="initech", name="Initech")
    body = api.get("/api/v1/customers").json()
    assert body["count"] == 3
    assert [c["external_id"] for c in body["results"]] == ["acme", "globex", "initech"]
    assert [c["external_id"] for c in api.get("/api/v1/customers?search=GLOB").json()["results"]] \
        == ["globex"]
    archived = api.get("/api/v1/customers?archived=true").json()["results"]
    assert [c["external_id"] for c in archived] == ["globex"]
    live = api.get("/api/v1/customers?archived=false").json()["results"]
    assert [c["external_id"] for c in live] == ["acme", "initech"]


def test_bad_archived_filter_is_a_400_naming_it(api):
    assert_refused(api.get("/api/v1/customers?archived=maybe"), "archived")


def test_patch_changes_only_the_given_fields(api):
    CustomerFactory(external_id="acme", name="Acme", email="old@acme.test")
    response = api.patch("/api/v1/customers/acme", {"name": "Acme Corp", "archived": True},
                         format="json")
    assert response.status_code == 200, response.content
    customer = Customer.objects.get(external_id="acme")
    assert (customer.name, customer.email, customer.archived) == ("Acme Corp", "old@acme.test", True)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"currency": "ABC"}, "currency"),
        ({"external_id": "acme2"}, "external_id"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "created_at"),
        ({"colour": "blue"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_patch_is_refused_naming_the_field_and_changes_nothing(api, changes, field):
    CustomerFactory(external_id="acme", name="Acme", email="billing@acme.test")
    response = api.patch("/api/v1/customers/acme", {"name": "Changed", **changes}, format="json")
    assert_refused(response, field)
    customer = Customer.objects.get(external_id="acme")
    assert (customer.name, customer.email, customer.currency) == ("Acme", "billing@acme.test", "USD")


def test_unknown_fields_are_each_named_alongside_other_errors(api):
    CustomerFactory(external_id="acme")
    errors = api.patch("/api/v1/customers/acme", {"email": "nope", "colour": 1, "size": 2},
                       format="json").json()["errors"]
    assert set(errors) == {"email", "colour", "size"}


def test_currency_cannot_change_once_the_customer_has_a_contract(api):
    contract = ContractFactory(customer=CustomerFactory(external_id="acme"))
    response = api.patch("/api/v1/customers/acme", {"currency": "EUR"}, format="json")
    assert_refused(response, "currency")
    contract.customer.refresh_from_db()
    assert contract.customer.currency == "USD"
