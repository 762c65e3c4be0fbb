"""Plans and plan versions over HTTP; a published version refuses every change (409)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plans.models import Plan, PlanVersion
from tests.factories import MetricFactory, PlanFactory, make_version, row_counts

pytestmark = pytest.mark.django_db

VERSION = {
    "effective_from": "2026-10-01", "currency": "USD", "billing_interval": "month",
    "seat_price": "40.00", "base_fee": "0",
    "charges": [
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 1000},
        {"metric": "tokens_rt", "model": "graduated", "included_units": 0,
         "tiers": [{"up_to": 1000000, "unit_price": "0.000002", "flat_fee": "0"},
                   {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]},
    ],
}


@pytest.fixture
def team():
    MetricFactory(code="tasks")
    MetricFactory(code="tokens_rt", event_type="ai.call", aggregation="sum", field="total_tokens",
                  filters={"latency_tier": "realtime"})
    return PlanFactory(code="team", name="Team")


def assert_refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_create_plan(api):
    response = api.post("/api/v1/plans", {"code": "team", "name": "Team"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json() | {"created_at": None} == {
        "code": "team", "name": "Team", "description": "", "current_version": None,
        "versions": [], "created_at": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "team", "name": "Again"}, "code"),
        ({"code": "Team Plan", "name": "Team"}, "code"),
        ({"code": "solo"}, "name"),
        ({"code": "solo", "name": "Solo", "versions": []}, "versions"),
    ],
)
def test_bad_plan_is_refused_naming_the_field_and_nothing_is_written(api, team, body, field):
    before = row_counts()
    assert_refused(api.post("/api/v1/plans", body, format="json"), field)
    assert row_counts() == before


def test_create_version_returns_number_status_and_normalised_money(api, team):
    response = api.post("/api/v1/plans/team/versions", VERSION, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["plan"], body["version"], body["status"]) == ("team", 1, "draft")
    assert (body["seat_price"], body["base_fee"]) == ("40.00", "0.00")
    tasks, tokens = body["charges"]
    assert (tasks["metric"], tasks["unit_price"], tasks["included_per_seat"]) == \
        ("tasks", "0.05", "1000")
    assert tokens["tiers"] == [
        {"up_to": "1000000", "unit_price": "0.000002", "flat_fee": "0.00"},
        {"up_to": None, "unit_price": "0.000001", "flat_fee": "0.00"},
    ]
    second = api.post("/api/v1/plans/team/versions", VERSION, format="json").json()
    assert second["version"] == 2


def test_zero_decimal_currency_prices_show_no_decimals(api, team):
    body = api.post("/api/v1/plans/team/versions",
                    {**VERSION, "currency": "JPY", "seat_price": "4000", "charges": []},
                    format="json").json()
    assert body["seat_price"] == "4000"


def test_version_of_unknown_plan_is_404(api):
    assert api.post("/api/v1/plans/nope/versions", VERSION, format="json").status_code == 404
    assert api.get("/api/v1/plans/nope").status_code == 404


def test_unknown_version_is_404(api, team):
    assert api.get("/api/v1/plans/team/versions/3").status_code == 404
    assert api.patch("/api/v1/plans/team/versions/3", {}, format="json").status_code == 404
    assert api.post("/api/v1/plans/team/versions/3/publish").status_code == 404


def tiers(*bounds):
    return [{"up_to": b, "unit_price": "0.1"} for b in bounds]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"effective_from": "October"}, "effective_from"),
        ({"effective_from": None}, "effective_from"),
        ({"currency": "ZZZ"}, "currency"),
        ({"billing_interval": "week"}, "billing_interval"),
        ({"seat_price": "-1"}, "seat_price"),
        ({"seat_price": "forty"}, "seat_price"),
        ({"seat_price": "0.00000000001"}, "seat_price"),
        ({"charges": "tasks"}, "charges"),
        ({"charges": [{"metric": "nope", "model": "per_unit", "unit_price": "1"}]},
         "charges[0].metric"),
        ({"charges": [{"metric": "tasks", "model": "flat", "unit_price": "1"}]},
         "charges[0].model"),
        ({"charges": [{"metric": "tasks", "model": "per_unit"}]}, "charges[0].unit_price"),
        ({"charges": [{"metric": "tasks", "model": "package", "package_price": "5"}]},
         "charges[0].package_size"),
        ({"charges": [{"metric": "tasks", "model": "graduated", "tiers": tiers(100, 50, None)}]},
         "charges[0].tiers[1].up_to"),
        ({"charges": [{"metric": "tasks", "model": "graduated", "tiers": tiers(100, 200)}]},
         "charges[0].tiers[1].up_to"),
        ({"charges": [{"metric": "tasks", "model": "volume", "tiers": []}]}, "charges[0].tiers"),
        ({"charges": [{"metric": "tasks", "model": "per_unit", "unit_price": "1",
                       "unit_prize": "2"}]}, "charges[0].unit_prize"),
        ({"charges": [{"metric": "tasks", "model": "graduated",
                       "tiers": [{"up_to": None, "price": "1"}]}]}, "charges[0].tiers[0].price"),
        ({"status": "published"}, "status"),
        ({"version": 7}, "version"),
    ],
)
def test_bad_version_is_refused_naming_the_field_and_nothing_is_written(api, team, changes, field):
    before = row_counts()
    response = api.post("/api/v1/plans/team/versions", {**VERSION, **changes}, format="json")
    assert_refused(response, field)
    assert row_counts() == before


def test_a_bad_later_charge_keeps_the_good_earlier_ones_from_being_written(api, team):
    charges = [VERSION["charges"][0], {"metric": "nope", "model": "per_unit", "unit_price": "1"}]
    before = row_counts()
    assert_refused(api.post("/api/v1/plans/team/versions", {**VERSION, "charges": charges},
                            format="json"), "charges[1].metric")
    assert row_counts() == before


def test_patch_draft_version_replaces_charges(api, team):
    make_version(plan=team, publish=False, charges=VERSION["charges"])
    response = api.patch("/api/v1/plans/team/versions/1", {
        "seat_price": "45", "charges": [{"metric": "tasks", "model": "per_unit", "unit_price": "0.04"}],
    }, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["seat_price"] == "45.00"
    assert [(c["metric"], c["unit_price"]) for c in body["charges"]] == [("tasks", "0.04")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seat_price": "-5"}, "seat_price"),
        ({"billing_interval": "fortnight"}, "billing_interval"),
        ({"charges": [{"metric": "nope", "model": "per_unit", "unit_price": "1"}]},
         "charges[0].metric"),
        ({"plan": "other"}, "plan"),
    ],
)
def test_bad_patch_on_a_draft_is_refused_and_changes_nothing(api, team, changes, field):
    make_version(plan=team, publish=False, charges=VERSION["charges"])
    before_body = api.get("/api/v1/plans/team/versions/1").json()
    before = row_counts()
    assert_refused(api.patch("/api/v1/plans/team/versions/1", changes, format="json"), field)
    assert row_counts() == before
    assert api.get("/api/v1/plans/team/versions/1").json() == before_body


@pytest.mark.parametrize(
    "changes",
    [
        {"seat_price": "99"},
        {"charges": []},
        {"effective_from": "2027-01-01"},
        {},
        {"seat_price": "not a number"},
    ],
)
def test_published_version_refuses_every_change_with_409_and_stays_the_same(api, team, changes):
    make_version(plan=team, charges=VERSION["charges"])
    before_body = api.get("/api/v1/plans/team/versions/1").json()
    before = row_counts()
    history = PlanVersion.history.count()
    response = api.patch("/api/v1/plans/team/versions/1", changes, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert "team v1" in body["detail"] and "immutable" in body["detail"]
    assert body["errors"] == {"status": [body["detail"]]}
    assert api.get("/api/v1/plans/team/versions/1").json() == before_body
    assert row_counts() == before
    assert PlanVersion.history.count() == history


def test_publish_makes_it_current_and_a_second_publish_is_409(api, team):
    make_version(plan=team, publish=False, effective_from=dt.date(2026, 10, 1),
                 charges=VERSION["charges"])
    with time_machine.travel(dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC), tick=False):
        response = api.post("/api/v1/plans/team/versions/1/publish")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "published"
        assert response.json()["published_at"] == "2026-10-01T09:00:00Z"
        again = api.post("/api/v1/plans/team/versions/1/publish")
        assert again.status_code == 409
        assert again.json()["errors"]["status"]
        assert api.get("/api/v1/plans/team").json()["current_version"] == 1
    assert PlanVersion.objects.get().published_at == dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)


def test_publishing_an_empty_version_is_refused_naming_charges(api, team):
    make_version(plan=team, publish=False, seat_price="0", charges=[])
    response = api.post("/api/v1/plans/team/versions/1/publish")
    assert_refused(response, "charges")
    assert PlanVersion.objects.get().status == "draft"


def test_current_version_is_the_latest_published_in_force_today(api, team):
    make_version(plan=team, effective_from=dt.date(2026, 1, 1))
    make_version(plan=team, effective_from=dt.date(2026, 12, 1))
    make_version(plan=team, effective_from=dt.date(2026, 6, 1), publish=False)
    with time_machine.travel(dt.datetime(2026, 11, 15, tzinfo=dt.UTC), tick=False):
        body = api.get("/api/v1/plans/team").json()
        assert body["current_version"] == 1
        assert [(v["version"], v["status"]) for v in body["versions"]] == [
            (1, "published"), (2, "published"), (3, "draft")]
        assert api.get("/api/v1/plans").json()["results"][0]["current_version"] == 1
    with time_machine.travel(dt.datetime(2026, 12, 1, tzinfo=dt.UTC), tick=False):
        assert api.get("/api/v1/plans/team").json()["current_version"] == 2


def test_versions_list(api, team):
    make_version(plan=team)
    make_version(plan=team, publish=False)
    body = api.get("/api/v1/plans/team/versions").json()
    assert [(v["version"], v["status"]) for v in body["results"]] == [(1, "published"), (2, "draft")]
    assert Plan.objects.count() == 1


def add_plans(count: int, *, versions: int, first: int = 0) -> None:
    for n in range(first, first + count):
        plan = PlanFactory(code=f"plan-{n}")
        for month in range(1, versions + 1):
            make_version(plan=plan, effective_from=dt.date(2026, month, 1))
        make_version(plan=plan, publish=False, effective_from=dt.date(2027, 1, 1))


def test_listing_plans_takes_as_many_queries_for_many_plans_and_versions_as_for_one(
        api, django_assert_num_queries):
    add_plans(1, versions=1)
    api.get("/api/v1/plans")  # the key's first use is recorded once; measure the steady state
    with CaptureQueriesContext(connection) as one_plan:
        assert api.get("/api/v1/plans").status_code == 200
    add_plans(8, versions=4, first=1)

    with django_assert_num_queries(len(one_plan)):
        body = api.get("/api/v1/plans").json()

    assert len(body["results"]) == 9
    assert {plan["current_version"] for plan in body["results"]} == {1, 4}
    assert {len(plan["versions"]) for plan in body["results"]} == {2, 5}


def test_listing_versions_takes_as_many_queries_for_many_charges_and_tiers_as_for_one(
        api, team, django_assert_num_queries):
    make_version(plan=team, charges=VERSION["charges"][:1])
    api.get("/api/v1/plans/team/versions")
    with CaptureQueriesContext(connection) as one_version:
        assert api.get("/api/v1/plans/team/versions").status_code == 200
    for month in range(2, 6):
        make_version(plan=team, effective_from=dt.date(2026, month, 1), charges=VERSION["charges"])

    with django_assert_num_queries(len(one_version)):
        body = api.get("/api/v1/plans/team/versions").json()

    assert [len(version["charges"]) for version in body["results"]] == [1, 2, 2, 2, 2]
    assert body["results"][-1]["charges"][1]["tiers"][0]["unit_price"] == "0.000002"
