"""GET /api/v1/pricing/archetypes and /pricing/recommendations, and POST
/pricing/recommendations (a draft version), on the hand-computable book."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from plans.models import PlanVersion
from tests.factories import row_counts
from tests.invoices.lab.pricing_book import AS_OF, build_book

pytestmark = pytest.mark.django_db

ARCHETYPES = "/api/v1/pricing/archetypes"
RECOMMENDATIONS = "/api/v1/pricing/recommendations"


@pytest.fixture
def book():
    with time_machine.travel(AS_OF, tick=False):
        yield build_book()


def test_archetypes_are_the_percentiles_as_decimal_strings(api, book):
    response = api.get(ARCHETYPES, {"plan": "team", "periods": 1})
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "plan": "team", "periods": 1, "currency": "USD", "customer_periods": 5,
        "zero_seat_periods": 1,
        "seat_cost": {"p20": "4.20", "p50": "10.00", "p80": "26.00", "p95": "44.00"},
        "seat_usage": {"tasks": {"p20": "42", "p50": "100", "p80": "260", "p95": "440"}},
    }


def test_archetypes_without_customer_periods_have_no_percentiles(api, book):
    with time_machine.travel("2026-10-15T00:00:00Z", tick=False):
        response = api.get(ARCHETYPES, {"plan": "team"})
    assert response.status_code == 200
    body = response.json()
    assert (body["customer_periods"], body["seat_cost"], body["periods"]) == (0, None, 3)


def test_recommendations_carry_the_numbers_behind_them(api, book):
    response = api.get(RECOMMENDATIONS, {"plan": "team", "periods": 1})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert {key: body[key] for key in ("seat_price", "included_per_seat", "spread",
                                       "seat_only_unsafe", "money_at_stake")} == {
        "seat_price": "86.67", "included_per_seat": {"tasks": 260}, "spread": "10.48",
        "seat_only_unsafe": True, "money_at_stake": "24.50"}
    assert body["seat_cost_at_percentile"] == "26.00"
    assert body["covered_seat_cost"] == "26.001"
    assert (body["periods_above"], body["cost_of_periods_above"]) == (2, "50.50")
    assert (body["percentile"], body["target_margin"], body["share"]) == (80, "0.7", "0.8")
    assert body["within_allowance"] == {"tasks": 4}


def test_recommendations_at_other_settings(api, book):
    response = api.get(RECOMMENDATIONS, {"plan": "team", "periods": 1, "percentile": 95,
                                         "target_margin": "0.6", "share": "0.5"})
    assert response.status_code == 200
    body = response.json()
    assert (body["seat_price"], body["included_per_seat"], body["money_at_stake"]) == (
        "110.00", {"tasks": 100}, "6.50")


@pytest.mark.parametrize(("params", "field"), [
    ({}, "plan"),
    ({"plan": "nope"}, "plan"),
    ({"plan": "team", "periods": 0}, "periods"),
    ({"plan": "team", "periods": 37}, "periods"),
    ({"plan": "team", "periods": "x"}, "periods"),
    ({"plan": "team", "percentile": 101}, "percentile"),
    ({"plan": "team", "target_margin": "1"}, "target_margin"),
    ({"plan": "team", "target_margin": "-0.1"}, "target_margin"),
    ({"plan": "team", "target_margin": "NaN"}, "target_margin"),
    ({"plan": "team", "share": "0"}, "share"),
    ({"plan": "team", "share": "1.5"}, "share"),
    ({"plan": "te\x00am"}, "plan"),
])
def test_bad_inputs_are_a_400_naming_the_field(api, book, params, field):
    response = api.get(RECOMMENDATIONS, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_nothing_to_recommend_from_is_a_400_naming_periods(api, book):
    with time_machine.travel("2026-10-15T00:00:00Z", tick=False):
        response = api.get(RECOMMENDATIONS, {"plan": "team"})
    assert response.status_code == 400
    assert "nothing to recommend from" in response.json()["errors"]["periods"][0]


def test_post_makes_a_draft_version_from_the_recommendation(api, book):
    plan, _v1, _v2 = book
    with time_machine.travel(AS_OF, tick=False):
        response = api.post(RECOMMENDATIONS, {"plan": "team", "periods": 1}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["plan"], body["version"], body["status"]) == ("team", 3, "draft")
    assert (body["seat_price"], body["effective_from"], body["charges"]) == (
        "86.67", "2026-11-01", [])
    assert PlanVersion.objects.get(plan=plan, version=3).seat_price == Decimal("86.67")
    again = api.get("/api/v1/plans/team/versions/3")
    assert again.json() == body


def test_post_puts_the_allowance_on_the_current_versions_charges(api):
    with time_machine.travel(AS_OF, tick=False):
        build_book(candidate_published=True)
        response = api.post(RECOMMENDATIONS, {"plan": "team", "periods": 1,
                                              "target_margin": 0.7}, format="json")
    assert response.status_code == 201, response.json()
    (charge,) = response.json()["charges"]
    assert (charge["metric"], charge["included_per_seat"], charge["unit_price"]) == (
        "tasks", "260", "0.05")


def test_a_refused_post_writes_nothing(api, book):
    before = row_counts()
    response = api.post(RECOMMENDATIONS, {"plan": "team", "share": "2", "colour": "red"},
                        format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"share", "colour"}
    assert row_counts() == before


def test_an_ingest_key_may_not_use_the_lab(ingest_api, book):
    assert ingest_api.get(ARCHETYPES, {"plan": "team"}).status_code == 403
