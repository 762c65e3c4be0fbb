"""Contracts and scheduled migrations over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from plans.models import Contract, ContractMigration
from tests.factories import (
    ContractFactory,
    CustomerFactory,
    PlanFactory,
    make_version,
    row_counts,
)

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2026, 10, 15, 12, tzinfo=dt.UTC)
SPEC_BODY = {"customer": "acme", "plan": "team", "plan_version": 1, "start_date": "2026-10-01",
             "end_date": "2027-09-30", "auto_renew": True, "renewal": "grandfather",
             "committed_seats": 3, "seat_price": None, "base_fee": None,
             "included_per_seat": None, "discount_percent": None, "overage_cap": None,
             "minimum_commitment": None}


@pytest.fixture(autouse=True)
def frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def team():
    plan = PlanFactory(code="team")
    make_version(plan=plan, effective_from=dt.date(2026, 1, 1))  # v1
    make_version(plan=plan, effective_from=dt.date(2026, 6, 1), seat_price="45")  # v2
    return plan


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme")


@pytest.fixture
def contract(api, team, acme):
    response = api.post("/api/v1/contracts", SPEC_BODY, format="json")
    assert response.status_code == 201, response.content
    return Contract.objects.get(pk=response.json()["id"])


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_create_contract_with_the_spec_body(api, team, acme):
    response = api.post("/api/v1/contracts", SPEC_BODY, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    expected = {k: v for k, v in SPEC_BODY.items()}
    assert {k: body[k] for k in expected} == expected
    assert body["status"] == "active"
    assert body["migrations"] == []
    assert Contract.objects.get().plan_version.version == 1


def test_plan_version_defaults_to_the_current_version(api, team, acme):
    body = {k: v for k, v in SPEC_BODY.items() if k != "plan_version"}
    response = api.post("/api/v1/contracts", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["plan_version"] == 2


def test_null_plan_version_also_means_the_current_one(api, team, acme):
    response = api.post("/api/v1/contracts", {**SPEC_BODY, "plan_version": None}, format="json")
    assert response.json()["plan_version"] == 2


def test_default_ignores_versions_not_yet_in_force(api, team, acme):
    make_version(plan=team, effective_from=dt.date(2026, 11, 1))  # v3, next month
    body = {k: v for k, v in SPEC_BODY.items() if k != "plan_version"}
    assert api.post("/api/v1/contracts", body, format="json").json()["plan_version"] == 2


def test_overrides_round_trip_as_decimal_strings(api, team, acme):
    response = api.post("/api/v1/contracts", {
        **SPEC_BODY, "seat_price": "35", "base_fee": 100, "included_per_seat": 1500,
        "discount_percent": "12.5", "overage_cap": "500.00", "minimum_commitment": "0.005",
    }, format="json")
    body = response.json()
    assert [body[k] for k in ("seat_price", "base_fee", "included_per_seat", "discount_percent",
                              "overage_cap", "minimum_commitment")] == [
        "35.00", "100.00", "1500", "12.5", "500.00", "0.005"]


def second_plan_in(currency: str, **kwargs):
    plan = PlanFactory(code="other")
    return make_version(plan=plan, currency=currency, **kwargs)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer": "nobody"}, "customer"),
        ({"plan": "nope"}, "plan"),
        ({"plan_version": 9}, "plan_version"),
        ({"plan_version": 0}, "plan_version"),
        ({"plan_version": "one"}, "plan_version"),
        ({"start_date": "soon"}, "start_date"),
        ({"end_date": "2027-09-15"}, "end_date"),  # not the day before a period start
        ({"end_date": "2026-09-30"}, "end_date"),  # before the start
        ({"committed_seats": -1}, "committed_seats"),
        ({"renewal": "forever"}, "renewal"),
        ({"discount_percent": "120"}, "discount_percent"),
        ({"seat_price": "-1"}, "seat_price"),
        ({"overage_cap": "lots"}, "overage_cap"),
        ({"status": "ended"}, "status"),
        ({"anchor": "2026-10-01"}, "anchor"),
    ],
)
def test_bad_contract_is_refused_naming_the_field_and_nothing_is_written(
    api, team, acme, changes, field
):
    before = row_counts()
    assert_refused(api.post("/api/v1/contracts", {**SPEC_BODY, **changes}, format="json"), field)
    assert row_counts() == before


def test_version_in_another_currency_is_refused(api, acme):
    second_plan_in("EUR")
    before = row_counts()
    response = api.post("/api/v1/contracts", {**SPEC_BODY, "plan": "other"}, format="json")
    assert_refused(response, "plan_version")
    assert "EUR" in response.json()["errors"]["plan_version"][0]
    assert row_counts() == before


def test_default_version_needs_one_in_the_customers_currency(api, acme):
    second_plan_in("EUR")
    body = {k: v for k, v in SPEC_BODY.items() if k != "plan_version"} | {"plan": "other"}
    assert_refused(api.post("/api/v1/contracts", body, format="json"), "plan_version")


def test_draft_version_is_refused(api, team, acme):
    make_version(plan=team, publish=False)  # v3
    before = row_counts()
    response = api.post("/api/v1/contracts", {**SPEC_BODY, "plan_version": 3}, format="json")
    assert_refused(response, "plan_version")
    assert "draft" in response.json()["errors"]["plan_version"][0]
    assert row_counts() == before


def test_second_active_contract_is_refused(api, contract):
    before = row_counts()
    response = api.post("/api/v1/contracts", {**SPEC_BODY, "start_date": "2026-11-01",
                                              "end_date": None}, format="json")
    assert_refused(response, "customer")
    assert row_counts() == before


def test_archived_customer_gets_no_contract(api, team):
    CustomerFactory(external_id="acme", archived=True)
    assert_refused(api.post("/api/v1/contracts", SPEC_BODY, format="json"), "customer")


def test_get_list_and_filters(api, contract):
    other = ContractFactory(customer=CustomerFactory(external_id="globex"), status="ended")
    assert api.get(f"/api/v1/contracts/{contract.pk}").json()["customer"] == "acme"
    everything = api.get("/api/v1/contracts").json()
    assert everything["count"] == 2
    assert [c["id"] for c in api.get("/api/v1/contracts?customer=acme").json()["results"]] == \
        [contract.pk]
    assert [c["id"] for c in api.get("/api/v1/contracts?status=ended").json()["results"]] == \
        [other.pk]
    assert api.get("/api/v1/contracts?customer=globex&status=active").json()["results"] == []


@pytest.mark.parametrize(("query", "field"), [("customer=nobody", "customer"),
                                              ("status=paused", "status")])
def test_bad_filters_are_400s_naming_them(api, query, field):
    assert_refused(api.get(f"/api/v1/contracts?{query}"), field)


def test_unknown_contract_is_404(api):
    assert api.get("/api/v1/contracts/999").status_code == 404
    assert api.patch("/api/v1/contracts/999", {"auto_renew": False}, format="json").status_code \
        == 404
    assert api.post("/api/v1/contracts/999/migrations", {}, format="json").status_code == 404
    assert api.get("/api/v1/contracts/abc").status_code == 404


def test_patch_changes_terms(api, contract):
    response = api.patch(f"/api/v1/contracts/{contract.pk}",
                         {"committed_seats": 5, "end_date": "2027-03-31", "discount_percent": 10},
                         format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["committed_seats"], body["end_date"], body["discount_percent"]) == \
        (5, "2027-03-31", "10")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end_date": "2027-03-15"}, "end_date"),
        ({"committed_seats": -2}, "committed_seats"),
        ({"plan_version": 2}, "plan_version"),
        ({"customer": "globex"}, "customer"),
        ({"start_date": "2026-11-01"}, "start_date"),
        ({"status": "canceled"}, "status"),
        ({"seats": 3}, "seats"),
        ({"auto_renew": "sometimes"}, "auto_renew"),
    ],
)
def test_bad_patch_is_refused_and_changes_nothing(api, contract, changes, field):
    before = api.get(f"/api/v1/contracts/{contract.pk}").json()
    response = api.patch(f"/api/v1/contracts/{contract.pk}",
                         {"committed_seats": 9, **changes}, format="json")
    assert_refused(response, field)
    assert api.get(f"/api/v1/contracts/{contract.pk}").json() == before


def test_plan_version_patch_points_to_migrations(api, contract):
    response = api.patch(f"/api/v1/contracts/{contract.pk}", {"plan_version": 2}, format="json")
    assert "migration" in response.json()["errors"]["plan_version"][0]


def test_ended_contract_cannot_change(api, team):
    ended = ContractFactory(customer=CustomerFactory(external_id="acme"), status="ended")
    assert_refused(api.patch(f"/api/v1/contracts/{ended.pk}", {"auto_renew": False},
                             format="json"), "status")


# --- migrations --------------------------------------------------------------------------


def test_schedule_migration_shows_as_pending_on_the_contract(api, contract):
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-12-01", "notice_days": 30},
                        format="json")
    assert response.status_code == 201, response.content
    migration = response.json()
    assert (migration["plan"], migration["plan_version"], migration["effective_date"]) == \
        ("team", 2, "2026-12-01")
    assert (migration["scheduled_on"], migration["status"], migration["pending"]) == \
        ("2026-10-15", "scheduled", True)
    body = api.get(f"/api/v1/contracts/{contract.pk}").json()
    assert body["plan_version"] == 1  # still pinned until the effective date
    assert [(m["plan_version"], m["pending"]) for m in body["migrations"]] == [(2, True)]
    listed = api.get(f"/api/v1/contracts/{contract.pk}/migrations").json()["results"]
    assert [m["id"] for m in listed] == [migration["id"]]
    with time_machine.travel(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), tick=False):
        later = api.get(f"/api/v1/contracts/{contract.pk}").json()
        assert later["migrations"][0]["pending"] is False


def test_notice_defaults_to_30_days(api, contract):
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-12-01"}, format="json")
    assert response.json()["notice_days"] == 30
    too_soon = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-11-01"}, format="json")
    assert_refused(too_soon, "effective_date")


def test_migration_to_a_version_of_another_plan_names_the_plan(api, contract):
    other = PlanFactory(code="pro")
    make_version(plan=other, seat_price="60")
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan": "pro", "plan_version": 1, "effective_date": "2027-01-01"},
                        format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["plan"], response.json()["plan_version"]) == ("pro", 1)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"effective_date": "2026-11-01"}, "effective_date"),  # only 17 days' notice
        ({"effective_date": "2026-12-15"}, "effective_date"),  # not a period start
        ({"effective_date": "2027-10-01"}, "effective_date"),  # after the end date
        ({"effective_date": "tomorrow"}, "effective_date"),
        ({"plan_version": 1}, "plan_version"),  # already on it
        ({"plan_version": 7}, "plan_version"),
        ({"plan_version": 3}, "plan_version"),  # a draft
        ({"plan": "nope"}, "plan"),
        ({"notice_days": -1}, "notice_days"),
        ({"notice_days": 90}, "effective_date"),
        ({"reason": "price rise"}, "reason"),
    ],
)
def test_bad_migration_is_refused_naming_the_field_and_nothing_is_written(
    api, contract, team, changes, field
):
    make_version(plan=team, publish=False)  # v3
    before = row_counts()
    body = {"plan_version": 2, "effective_date": "2026-12-01", "notice_days": 30, **changes}
    assert_refused(api.post(f"/api/v1/contracts/{contract.pk}/migrations", body, format="json"),
                   field)
    assert row_counts() == before


def test_second_migration_on_the_same_date_is_refused(api, contract, team):
    body = {"plan_version": 2, "effective_date": "2026-12-01"}
    assert api.post(f"/api/v1/contracts/{contract.pk}/migrations", body,
                    format="json").status_code == 201
    make_version(plan=team, effective_from=dt.date(2026, 7, 1))  # v3
    again = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                     {**body, "plan_version": 3}, format="json")
    assert_refused(again, "effective_date")
    assert ContractMigration.objects.count() == 1


def schedule_december(api, contract) -> dict:
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations",
                        {"plan_version": 2, "effective_date": "2026-12-01"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_one_migration_is_read_under_its_contract(api, contract, team, acme):
    migration = schedule_december(api, contract)
    got = api.get(f"/api/v1/contracts/{contract.pk}/migrations/{migration['id']}")
    assert got.status_code == 200 and got.json() == migration
    other = ContractFactory(customer=CustomerFactory(external_id="globex"),
                            plan_version=team.versions.get(version=1))
    elsewhere = api.get(f"/api/v1/contracts/{other.pk}/migrations/{migration['id']}")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["detail"] == f"Contract {other.pk} has no migration {migration['id']}."
    assert api.get(f"/api/v1/contracts/{contract.pk}/migrations/{2**63}").status_code == 404


def test_canceling_a_pending_migration_keeps_the_contract_on_its_version(api, contract):
    migration = schedule_december(api, contract)
    response = api.post(f"/api/v1/contracts/{contract.pk}/migrations/{migration['id']}/cancel")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["pending"]) == ("canceled", False)
    with time_machine.travel(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), tick=False):
        upcoming = api.get("/api/v1/customers/acme/upcoming-invoice").json()
    assert (upcoming["plan"], upcoming["plan_version"]) == ("team", 1)
    # The date is free again: a canceled migration does not hold it.
    assert schedule_december(api, contract)["status"] == "scheduled"


def test_canceling_twice_answers_the_canceled_migration(api, contract):
    migration = schedule_december(api, contract)
    path = f"/api/v1/contracts/{contract.pk}/migrations/{migration['id']}/cancel"
    first, again = api.post(path), api.post(path + "/")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()


def test_a_migration_in_effect_cannot_be_canceled_409(api, contract):
    migration = schedule_december(api, contract)
    with time_machine.travel(dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), tick=False):
        response = api.post(
            f"/api/v1/contracts/{contract.pk}/migrations/{migration['id']}/cancel")
    assert response.status_code == 409, response.content
    assert "took effect on 2026-12-01" in response.json()["errors"]["effective_date"][0]
    assert ContractMigration.objects.get(pk=migration["id"]).status == "scheduled"


def test_canceling_needs_the_admin_key(ingest_api, anon_api, api, contract):
    migration = schedule_december(api, contract)
    path = f"/api/v1/contracts/{contract.pk}/migrations/{migration['id']}/cancel"
    assert ingest_api.post(path).status_code == 403
    assert anon_api.post(path).status_code == 401
    assert ContractMigration.objects.get(pk=migration["id"]).status == "scheduled"
