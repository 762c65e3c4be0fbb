import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.rollups import rollup_usage

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def url(external_id="acme", **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/v1/customers/{external_id}/usage" + (f"?{params}" if params else "")


@pytest.fixture
def acme():
    customer = CustomerFactory(external_id="acme")
    MetricFactory(code="tasks", name="Tasks completed", event_type="task.completed",
                  aggregation="count")
    MetricFactory(code="tokens_rt", name="Realtime tokens", event_type="ai.call",
                  aggregation="sum", field="total_tokens", filters={"latency_tier": "realtime"})
    ai = {"customer": customer, "event_type": "ai.call", "model": "gpt-4.1-mini"}
    EventFactory(**ai, timestamp=T0, seat="alice@acme.test", provider_cost=Decimal("0.00063"),
                 properties={"input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500,
                             "latency_tier": "realtime"})
    EventFactory(**ai, timestamp=T0 + HOUR, seat="bob@acme.test",
                 provider_cost=Decimal("0.0001"),
                 properties={"input_tokens": 100, "output_tokens": 50, "total_tokens": 150,
                             "latency_tier": "batch"})
    for minute in range(3):
        EventFactory(customer=customer, timestamp=T0 + dt.timedelta(minutes=minute))
    rollup_usage(now=T0 + 3 * HOUR)
    return customer


def test_usage_returns_metric_totals_and_provider_cost(api, acme):
    response = api.get(url(start="2026-10-05T00:00:00Z", end="2026-10-06T00:00:00Z"))

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "customer": "acme",
        "start": "2026-10-05T00:00:00Z",
        "end": "2026-10-06T00:00:00Z",
        "metrics": [
            {"code": "tasks", "name": "Tasks completed", "aggregation": "count", "value": "3"},
            {"code": "tokens_rt", "name": "Realtime tokens", "aggregation": "sum",
             "value": "1500"},
        ],
        "provider_cost": {
            "total": "0.00073",
            "by_model": [{"model": "gpt-4.1-mini", "calls": 2, "input_tokens": "1300",
                          "output_tokens": "350", "cost": "0.00073", "unpriced": 0}],
            "by_seat": [
                {"seat": "alice@acme.test", "calls": 1, "total_tokens": "1500",
                 "cost": "0.00063"},
                {"seat": "bob@acme.test", "calls": 1, "total_tokens": "150", "cost": "0.0001"},
            ],
        },
    }


def test_usage_range_is_half_open_and_accepts_offsets(api, acme):
    response = api.get(url(start="2026-10-05T14:00:00%2B02:00", end="2026-10-05T13:00:00Z"))
    assert response.status_code == 200
    body = response.json()
    assert body["start"] == "2026-10-05T12:00:00Z"
    assert {m["code"]: m["value"] for m in body["metrics"]} == {"tasks": "3", "tokens_rt": "1500"}
    assert body["provider_cost"]["total"] == "0.00063"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"end": "2026-10-06T00:00:00Z"}, "start"),
        ({"start": "2026-10-05T00:00:00Z"}, "end"),
        ({"start": "yesterday", "end": "2026-10-06T00:00:00Z"}, "start"),
        ({"start": "2026-10-05T00:00:00Z", "end": "2026-13-01T00:00:00Z"}, "end"),
        ({"start": "2026-10-05T00:00:00Z", "end": "2026-10-05T00:00:00Z"}, "end"),
        ({"start": "2026-10-05T00:00:00Z", "end": "2026-10-04T00:00:00Z"}, "end"),
        ({"start": "2025-01-01T00:00:00Z", "end": "2026-10-05T00:00:00Z"}, "end"),
    ],
)
def test_usage_names_the_bad_query_field(api, acme, query, field):
    response = api.get(url(**query))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert list(body["errors"]) == [field]


def test_usage_range_of_exactly_400_days_is_allowed(api, acme):
    response = api.get(url(start="2026-01-01T00:00:00Z", end="2027-02-05T00:00:00Z"))
    assert response.status_code == 200


def test_usage_of_unknown_customer_is_404(api, acme):
    response = api.get(url("nobody", start="2026-10-05T00:00:00Z", end="2026-10-06T00:00:00Z"))
    assert response.status_code == 404


def test_usage_needs_an_admin_key(anon_api, ingest_api, acme):
    query = {"start": "2026-10-05T00:00:00Z", "end": "2026-10-06T00:00:00Z"}
    assert anon_api.get(url(**query)).status_code == 401
    assert ingest_api.get(url(**query)).status_code == 403


def test_usage_is_in_the_openapi_schema(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/customers/{external_id}/usage"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"start", "end", "external_id"}


def test_usage_answers_on_the_trailing_slash_twin_too(api, acme):
    query = "?start=2026-10-05T00:00:00Z&end=2026-10-06T00:00:00Z"
    response = api.get(f"/api/v1/customers/acme/usage/{query}")
    assert response.status_code == 200
    assert response.json()["metrics"][0]["value"] == "3"


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "0613-04-20T04:07:40Z", "end": "2026-10-06T00:00:00Z"}, "start"),
    ({"start": "2200-12-31T00:00:00Z", "end": "2201-01-02T00:00:00Z"}, "end"),
    ({"start": "9999-12-31T23:59:59-23:59", "end": "2026-10-06T00:00:00Z"}, "start"),
    ({"start": "2026-10-05T00:00:00Z%00", "end": "2026-10-06T00:00:00Z"}, "start"),
])
def test_usage_range_outside_the_years_1970_to_2200_is_a_400_naming_the_field(
        api, acme, query, field):
    response = api.get(url(**query))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


def test_usage_offsets_are_normalised_to_utc(api, acme):
    response = api.get(url(start="2026-10-05T05:30:15.5%2B05:30:15.5",
                           end="2026-10-05T14:00:00-20:00"))
    assert response.status_code == 200
    assert (response.json()["start"], response.json()["end"]) == (
        "2026-10-05T00:00:00Z", "2026-10-06T10:00:00Z")


def test_usage_of_a_customer_id_with_a_nul_is_a_404_not_a_500(api, acme):
    response = api.get(url("ac%00me", start="2026-10-05T00:00:00Z", end="2026-10-06T00:00:00Z"))
    assert response.status_code == 404
