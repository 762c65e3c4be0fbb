"""Metrics over HTTP (SPEC section 7 shapes)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from plans.models import Metric
from plans.services import plan_version_publish
from tests.factories import MetricFactory, PlanFactory, make_version, row_counts

pytestmark = pytest.mark.django_db

TASKS = {"code": "tasks", "name": "Tasks completed", "event_type": "task.completed",
         "aggregation": "count"}
TOKENS_RT = {"code": "tokens_rt", "name": "Realtime tokens", "event_type": "ai.call",
             "aggregation": "sum", "field": "total_tokens",
             "filters": {"latency_tier": "realtime"}}


@pytest.mark.parametrize("body", [TASKS, TOKENS_RT], ids=["count", "sum with filters"])
def test_create_metric_as_in_the_spec(api, body):
    response = api.post("/api/v1/metrics", body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert {k: answer[k] for k in body} == body
    metric = Metric.objects.get(code=body["code"])
    assert metric.filters == body.get("filters", {})


def test_count_metric_shows_no_field(api):
    assert api.post("/api/v1/metrics", TASKS, format="json").json()["field"] is None


def test_get_and_list_metrics(api):
    MetricFactory(code="tasks")
    assert api.get("/api/v1/metrics/tasks").json()["event_type"] == "task.completed"
    assert [m["code"] for m in api.get("/api/v1/metrics").json()["results"]] == ["tasks"]
    assert api.get("/api/v1/metrics/nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TASKS, "code": "tasks"}, "code"),  # duplicate
        ({**TASKS, "code": "Bad Code"}, "code"),
        ({**TASKS, "aggregation": "avg"}, "aggregation"),
        ({**TASKS, "field": "total_tokens"}, "field"),  # count takes no field
        ({**TOKENS_RT, "field": ""}, "field"),  # sum needs one
        ({**TOKENS_RT, "filters": ["realtime"]}, "filters"),
        ({**TOKENS_RT, "filters": {"latency_tier": {"in": ["a"]}}}, "filters"),
        ({**TASKS, "event_type": ""}, "event_type"),
        ({**TASKS, "unit": "tasks"}, "unit"),
    ],
)
def test_bad_metric_is_refused_naming_the_field_and_nothing_is_written(api, body, field):
    MetricFactory(code="tasks")
    before = row_counts()
    response = api.post("/api/v1/metrics", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert row_counts() == before


# --- PATCH /metrics/{code} ---------------------------------------------------------------


@pytest.fixture
def tokens() -> Metric:
    return MetricFactory(code="tokens_rt", name="Realtime tokens", event_type="ai.call",
                         aggregation="sum", field="total_tokens",
                         filters={"latency_tier": "realtime"})


def price(metric: Metric, *, publish: bool):
    return make_version(plan=PlanFactory(code="team"), publish=publish, charges=[
        {"metric": metric.code, "model": "per_unit", "unit_price": "0.000002"}])


def test_name_and_description_change_even_while_a_published_version_prices_it(api, tokens):
    price(tokens, publish=True)
    response = api.patch("/api/v1/metrics/tokens_rt",
                         {"name": "Tokens (realtime)", "description": "Input plus output."},
                         format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["name"], response.json()["description"]) == \
        ("Tokens (realtime)", "Input plus output.")
    tokens.refresh_from_db()
    assert (tokens.name, tokens.description) == ("Tokens (realtime)", "Input plus output.")


@pytest.mark.parametrize("publish", [False, True], ids=["no version", "draft version only"])
def test_rule_changes_while_no_published_version_prices_it(api, tokens, publish):
    if publish:
        price(tokens, publish=False)
    response = api.patch("/api/v1/metrics/tokens_rt", {
        "event_type": "ai.completion", "aggregation": "max", "field": "output_tokens",
        "filters": {}}, format="json")
    assert response.status_code == 200, response.content
    tokens.refresh_from_db()
    assert (tokens.event_type, tokens.aggregation, tokens.field, tokens.filters) == \
        ("ai.completion", "max", "output_tokens", {})


def test_switching_to_count_clears_the_field_with_null(api, tokens):
    response = api.patch("/api/v1/metrics/tokens_rt", {"aggregation": "count", "field": None},
                         format="json")
    assert response.status_code == 200, response.content
    assert response.json()["field"] is None
    tokens.refresh_from_db()
    assert (tokens.aggregation, tokens.field) == ("count", "")


@pytest.mark.parametrize("change", [
    {"event_type": "ai.completion"}, {"aggregation": "max"}, {"field": "input_tokens"},
    {"filters": {}}, {"aggregation": "count", "field": None, "name": "Calls"},
], ids=["event_type", "aggregation", "field", "filters", "two rule fields and a name"])
def test_rule_change_is_409_naming_each_field_while_a_published_version_prices_it(
        api, tokens, change):
    price(tokens, publish=True)
    response = api.patch("/api/v1/metrics/tokens_rt", change, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    rule_fields = set(change) - {"name"}
    assert set(body["errors"]) == rule_fields
    assert "team v1" in body["detail"] and "new metric" in body["detail"]
    tokens.refresh_from_db()
    assert (tokens.name, tokens.event_type, tokens.aggregation, tokens.field, tokens.filters) == \
        ("Realtime tokens", "ai.call", "sum", "total_tokens", {"latency_tier": "realtime"})


def test_sending_the_current_rule_back_is_not_a_change(api, tokens):
    price(tokens, publish=True)
    current = api.get("/api/v1/metrics/tokens_rt").json()
    body = {k: current[k] for k in ("name", "event_type", "aggregation", "field", "filters")}
    response = api.patch("/api/v1/metrics/tokens_rt", {**body, "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(("body", "field"), [
    ({"code": "other"}, "code"),
    ({"created_at": "2026-10-01T00:00:00Z"}, "created_at"),
    ({"unit": "tokens"}, "unit"),
    ({"name": ""}, "name"),
    ({"name": "A\x00"}, "name"),
    ({"aggregation": "avg"}, "aggregation"),
    ({"aggregation": "count"}, "field"),  # the field it still has
    ({"field": None}, "field"),  # a sum needs one
    ({"filters": ["realtime"]}, "filters"),
])
def test_bad_change_is_400_naming_the_field_and_nothing_changes(api, tokens, body, field):
    response = api.patch("/api/v1/metrics/tokens_rt", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    tokens.refresh_from_db()
    assert (tokens.code, tokens.name, tokens.aggregation, tokens.field) == \
        ("tokens_rt", "Realtime tokens", "sum", "total_tokens")


def test_patch_of_unknown_metric_is_404(api):
    assert api.patch("/api/v1/metrics/nope", {"name": "X"}, format="json").status_code == 404


def test_patch_needs_an_admin_key(ingest_api, anon_api, tokens):
    assert ingest_api.patch("/api/v1/metrics/tokens_rt", {"name": "X"},
                            format="json").status_code == 403
    assert anon_api.patch("/api/v1/metrics/tokens_rt", {"name": "X"},
                          format="json").status_code == 401


def test_a_metric_can_be_created_with_a_description(api):
    response = api.post("/api/v1/metrics", {**TASKS, "description": "Agent tasks finished."},
                        format="json")
    assert response.status_code == 201, response.content
    assert Metric.objects.get(code="tasks").description == "Agent tasks finished."


@pytest.mark.postgres
def test_publishing_locks_the_metrics_it_prices(tokens):
    # metric_update checks "no published version prices it" under the metric's row lock;
    # publish takes the same lock, so the two cannot interleave.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    draft = price(tokens, publish=False)
    with CaptureQueriesContext(connection) as queries:
        plan_version_publish(version=draft, now=timezone.now())
    assert any('"plans_metric"' in q["sql"] and "FOR UPDATE" in q["sql"]
               for q in queries.captured_queries)
