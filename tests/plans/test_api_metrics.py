"""Metrics over HTTP (SPEC section 7 shapes)."""

from __future__ import annotations

import pytest

from plans.models import Metric
from tests.factories import MetricFactory, row_counts

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
