"""Absurd dates, counts and amounts in plans, versions, contracts and migrations are a 400
naming the field, never a 500 (OverflowError) or a year-613 row."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from plans.models import Contract, ContractMigration
from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version, row_counts

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
CONTRACT = {"customer": "acme", "plan": "team", "plan_version": 1, "start_date": "2026-10-01"}
VERSION = {"effective_from": "2026-10-01", "seat_price": "40.00",
           "charges": [{"metric": "tasks", "model": "per_unit", "unit_price": "0.05"}]}


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def team():
    MetricFactory(code="tasks")
    plan = PlanFactory(code="team")
    make_version(plan=plan, effective_from=dt.date(2026, 1, 1))  # v1
    make_version(plan=plan, effective_from=dt.date(2026, 6, 1), seat_price="45")  # v2
    CustomerFactory(external_id="acme")
    return plan


@pytest.fixture
def contract(api, team):
    response = api.post("/api/v1/contracts", CONTRACT, format="json")
    assert response.status_code == 201, response.content
    return Contract.objects.get()


def assert_refused(response, field: str) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["errors"]) == [field], body
    return body["errors"][field]


@pytest.mark.parametrize("notice_days", [2147483646, 2**31, 3651, -1, 9223372036854775808])
def test_notice_days_beyond_ten_years_is_refused_not_an_overflow(api, contract, notice_days):
    before = row_counts()
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-12-01",
                         "notice_days": notice_days}, format="json")
    assert_refused(response, "notice_days")
    assert row_counts() == before


def test_ten_years_notice_is_within_bounds(api, contract):
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-12-01", "notice_days": 3650},
                        format="json")
    assert "notice" in assert_refused(response, "effective_date")[0]  # too soon, not too big


@pytest.mark.parametrize("effective_date", ["0613-04-01", "2201-01-01", "9999-12-01"])
def test_migration_date_outside_the_supported_years_is_refused(api, contract, effective_date):
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": effective_date}, format="json")
    assert_refused(response, "effective_date")
    assert ContractMigration.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_date": "0376-01-01"}, "start_date"),
        ({"start_date": "1969-12-01"}, "start_date"),
        ({"end_date": "9999-12-31"}, "end_date"),
        ({"end_date": "2201-01-31"}, "end_date"),
        ({"committed_seats": 2147483647}, "committed_seats"),
        ({"committed_seats": 1_000_001}, "committed_seats"),
        ({"committed_seats": -1}, "committed_seats"),
        ({"seat_price": "NaN"}, "seat_price"),
        ({"seat_price": "Infinity"}, "seat_price"),
        ({"seat_price": "1e400"}, "seat_price"),
        ({"overage_cap": "1000000000000000000"}, "overage_cap"),
        ({"included_per_seat": "-Infinity"}, "included_per_seat"),
        ({"plan_version": 9223372036854775808}, "plan_version"),
    ],
)
def test_contract_with_an_absurd_term_is_refused(api, team, changes, field):
    before = row_counts()
    assert_refused(api.post("/api/v1/contracts", {**CONTRACT, **changes}, format="json"), field)
    assert row_counts() == before


def test_contract_patch_with_an_absurd_end_date_or_seat_count_is_refused(api, contract):
    assert_refused(api.patch(f"/api/v1/contracts/{contract.pk}", {"end_date": "0613-04-20"},
                             format="json"), "end_date")
    assert_refused(api.patch(f"/api/v1/contracts/{contract.pk}",
                             {"committed_seats": 2147483646}, format="json"), "committed_seats")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"effective_from": "0613-04-20"}, "effective_from"),
        ({"effective_from": "2201-01-01"}, "effective_from"),
        ({"seat_price": "NaN"}, "seat_price"),
        ({"base_fee": "-Infinity"}, "base_fee"),
        ({"charges": [{"metric": "tasks", "model": "package", "package_size": 2**40,
                       "package_price": "5"}]}, "charges[0].package_size"),
        ({"charges": [{"metric": "tasks", "model": "package", "package_size": 1_000_000_001,
                       "package_price": "5"}]}, "charges[0].package_size"),
        ({"charges": [{"metric": "tasks", "model": "per_unit", "unit_price": "NaN"}]},
         "charges[0].unit_price"),
        ({"charges": [{"metric": "tasks", "model": "per_unit", "unit_price": "1",
                       "included_units": "1e30"}]}, "charges[0].included_units"),
        ({"charges": [{"metric": "tasks", "model": "graduated",
                       "tiers": [{"up_to": "1e400", "unit_price": "1"},
                                 {"up_to": None, "unit_price": "1"}]}]},
         "charges[0].tiers[0].up_to"),
        ({"charges": [{"metric": "tasks", "model": "graduated",
                       "tiers": [{"up_to": None, "unit_price": "Infinity"}]}]},
         "charges[0].tiers[0].unit_price"),
    ],
)
def test_version_with_an_absurd_date_count_or_amount_is_refused(api, team, changes, field):
    before = row_counts()
    response = api.post("/api/v1/plans/team/versions", {**VERSION, **changes}, format="json")
    assert_refused(response, field)
    assert row_counts() == before


def test_dates_print_as_iso_8601(api, contract):
    body = api.get(f"/api/v1/contracts/{contract.pk}").json()
    assert body["start_date"] == "2026-10-01" and body["created_at"] == "2026-10-15T12:00:00Z"
