"""The SPEC section 7 walk-through, end to end through the API."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from plans.models import Contract

pytestmark = pytest.mark.django_db

METRICS = [
    {"code": "tasks", "name": "Tasks completed", "event_type": "task.completed",
     "aggregation": "count"},
    {"code": "tokens_rt", "name": "Realtime tokens", "event_type": "ai.call",
     "aggregation": "sum", "field": "total_tokens", "filters": {"latency_tier": "realtime"}},
    {"code": "docs", "name": "Documents processed", "event_type": "doc.processed",
     "aggregation": "count"},
]
VERSION = {
    "effective_from": "2026-10-01", "currency": "USD", "billing_interval": "month",
    "seat_price": "40.00", "base_fee": "0",
    "charges": [
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 1000},
        {"metric": "tokens_rt", "model": "graduated", "included_units": 0,
         "tiers": [{"up_to": 1000000, "unit_price": "0.000002", "flat_fee": "0"},
                   {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]},
        {"metric": "docs", "model": "package", "package_size": 100, "package_price": "5.00"},
    ],
}


def ok(response, code=200):
    assert response.status_code == code, response.content
    return response.json()


def test_spec_example_from_metrics_to_contract(api):
    with time_machine.travel(dt.datetime(2026, 10, 1, 8, tzinfo=dt.UTC), tick=False):
        for metric in METRICS:
            ok(api.post("/api/v1/metrics", metric, format="json"), 201)
        ok(api.post("/api/v1/plans", {"code": "team", "name": "Team"}, format="json"), 201)

        draft = ok(api.post("/api/v1/plans/team/versions", VERSION, format="json"), 201)
        assert (draft["version"], draft["status"]) == (1, "draft")
        assert ok(api.get("/api/v1/plans/team"))["current_version"] is None

        published = ok(api.post("/api/v1/plans/team/versions/1/publish"))
        assert (published["version"], published["status"]) == (1, "published")
        assert published["seat_price"] == "40.00"
        tasks, tokens, docs = published["charges"]
        assert (tasks["model"], tasks["unit_price"], tasks["included_per_seat"]) == \
            ("per_unit", "0.05", "1000")
        assert [t["unit_price"] for t in tokens["tiers"]] == ["0.000002", "0.000001"]
        assert [t["up_to"] for t in tokens["tiers"]] == ["1000000", None]
        assert (docs["package_size"], docs["package_price"]) == (100, "5.00")
        assert ok(api.get("/api/v1/plans/team"))["current_version"] == 1

        ok(api.post("/api/v1/customers", {"external_id": "acme", "name": "Acme",
                                          "email": "billing@acme.test", "currency": "USD"},
                    format="json"), 201)
        seat = ok(api.post("/api/v1/customers/acme/seats",
                           {"email": "alice@acme.test", "name": "Alice",
                            "active_from": "2026-10-01T00:00:00Z", "active_until": None},
                           format="json"), 201)
        assert seat["active_from"] == "2026-10-01T00:00:00Z"

        contract = ok(api.post("/api/v1/contracts", {
            "customer": "acme", "plan": "team", "start_date": "2026-10-01",
            "end_date": "2027-09-30", "auto_renew": True, "renewal": "grandfather",
            "committed_seats": 3, "seat_price": None, "base_fee": None,
            "included_per_seat": None, "discount_percent": None, "overage_cap": None,
            "minimum_commitment": None,
        }, format="json"), 201)
        assert (contract["plan"], contract["plan_version"], contract["status"]) == \
            ("team", 1, "active")
        assert (contract["start_date"], contract["end_date"], contract["committed_seats"]) == \
            ("2026-10-01", "2027-09-30", 3)

        # A price rise is a new version; the contract stays on v1 (grandfathering).
        ok(api.post("/api/v1/plans/team/versions",
                    {**VERSION, "effective_from": "2026-11-01", "seat_price": "45"},
                    format="json"), 201)
        ok(api.post("/api/v1/plans/team/versions/2/publish"))
        refused = api.patch("/api/v1/plans/team/versions/1", {"seat_price": "45"}, format="json")
        assert refused.status_code == 409

        assert ok(api.get(f"/api/v1/contracts/{contract['id']}"))["plan_version"] == 1
    stored = Contract.objects.select_related("plan_version").get()
    assert (stored.plan_version.version, stored.committed_seats) == (1, 3)
