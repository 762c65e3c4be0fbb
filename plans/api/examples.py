"""Request and response examples of the metric, plan and contract API, for the OpenAPI
schema: the SPEC section 7 walk-through (metrics, the team plan, Acme's contract)."""

from __future__ import annotations

from common.api.schema import request_example, response_example

TASKS = {"code": "tasks", "name": "Tasks completed", "event_type": "task.completed",
         "aggregation": "count"}
TOKENS_RT = {"code": "tokens_rt", "name": "Realtime tokens", "event_type": "ai.call",
             "aggregation": "sum", "field": "total_tokens",
             "filters": {"latency_tier": "realtime"}}
METRIC = {**TOKENS_RT, "description": "", "created_at": "2026-10-01T08:00:00Z"}

METRIC_LIST = [response_example("A metric", METRIC)]
METRIC_CREATE = [
    request_example("Count of events", TASKS, summary="Count task.completed events"),
    request_example("Sum of a property", TOKENS_RT,
                    summary="Sum total_tokens of realtime ai.call events"),
    response_example("Created", METRIC, status=201),
]
METRIC_GET = [response_example("A metric", METRIC)]
METRIC_UPDATE = [
    request_example("Relabel", {"name": "Realtime tokens (all models)",
                                "description": "Input plus output tokens of realtime calls."},
                    summary="Name and description: always allowed"),
    request_example("Change the rule", {"filters": {"latency_tier": "realtime",
                                                    "initiated_by": "agent"}},
                    summary="The rule: only while no published version prices the metric"),
    response_example("Changed", {**METRIC, "name": "Realtime tokens (all models)",
                                 "description": "Input plus output tokens of realtime calls."}),
]

PLAN = {"code": "team", "name": "Team", "description": "", "current_version": 1,
        "versions": [{"version": 1, "status": "published", "effective_from": "2026-10-01",
                      "currency": "USD", "billing_interval": "month",
                      "published_at": "2026-10-01T08:00:00Z"}],
        "created_at": "2026-10-01T08:00:00Z"}
PLAN_LIST = [response_example("A plan", PLAN)]
PLAN_CREATE = [
    request_example("New plan", {"code": "team", "name": "Team"}),
    response_example("Created (no version yet)",
                     {**PLAN, "current_version": None, "versions": []}, status=201),
]
PLAN_GET = [response_example("A plan", PLAN)]

VERSION_BODY = {
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
_NO_PRICES = {"unit_price": None, "package_size": None, "package_price": None,
              "included_units": "0", "included_per_seat": None, "filters": {}, "tiers": []}
VERSION = {
    "plan": "team", "version": 1, "status": "draft", "effective_from": "2026-10-01",
    "currency": "USD", "billing_interval": "month", "seat_price": "40.00", "base_fee": "0.00",
    "charges": [
        {**_NO_PRICES, "metric": "tasks", "model": "per_unit", "unit_price": "0.05",
         "included_per_seat": "1000"},
        {**_NO_PRICES, "metric": "tokens_rt", "model": "graduated",
         "tiers": [{"up_to": "1000000", "unit_price": "0.000002", "flat_fee": "0.00"},
                   {"up_to": None, "unit_price": "0.000001", "flat_fee": "0.00"}]},
        {**_NO_PRICES, "metric": "docs", "model": "package", "package_size": 100,
         "package_price": "5.00"},
    ],
    "published_at": None, "created_at": "2026-10-01T08:00:00Z",
}
PUBLISHED = {**VERSION, "status": "published", "published_at": "2026-10-01T08:00:00Z"}
VERSION_LIST = [response_example("A version", PUBLISHED)]
VERSION_CREATE = [
    request_example("Hybrid price book", VERSION_BODY,
                    summary="Seat price with an allowance per seat, and usage charges"),
    response_example("Created as a draft", VERSION, status=201),
]
VERSION_GET = [response_example("A version", PUBLISHED)]
VERSION_UPDATE = [
    request_example("New seat price", {"seat_price": "45.00"}),
    response_example("Changed", {**VERSION, "seat_price": "45.00"}),
]
VERSION_PUBLISH = [response_example("Published", PUBLISHED)]

MIGRATION = {"id": 1, "contract": 1, "plan": "team", "plan_version": 2,
             "effective_date": "2026-12-01", "notice_days": 30, "scheduled_on": "2026-10-01",
             "status": "scheduled", "pending": True, "created_at": "2026-10-01T08:00:00Z"}
CONTRACT_BODY = {
    "customer": "acme", "plan": "team", "plan_version": 1, "start_date": "2026-10-01",
    "end_date": "2027-09-30", "auto_renew": True, "renewal": "grandfather",
    "committed_seats": 3, "seat_price": None, "base_fee": None, "included_per_seat": None,
    "discount_percent": None, "overage_cap": None, "minimum_commitment": None,
}
CONTRACT = {
    **CONTRACT_BODY, "id": 1, "status": "active", "anchor_date": "2026-10-01",
    "renewed_from": None, "migrations": [], "created_at": "2026-10-01T08:00:00Z",
    "updated_at": "2026-10-01T08:00:00Z",
}
CONTRACT_LIST = [response_example("A contract", {**CONTRACT, "migrations": [MIGRATION]})]
CONTRACT_CREATE = [
    request_example("Annual term, 3 committed seats", CONTRACT_BODY),
    request_example("Negotiated", {"customer": "acme", "plan": "team",
                                   "start_date": "2026-10-01", "seat_price": "35.00",
                                   "discount_percent": "10", "overage_cap": "500.00"},
                    summary="The plan's current version, with negotiated prices"),
    response_example("Created", CONTRACT, status=201),
]
CONTRACT_GET = [response_example("A contract with a pending migration",
                                 {**CONTRACT, "migrations": [MIGRATION]})]
CONTRACT_UPDATE = [
    request_example("More committed seats", {"committed_seats": 5}),
    response_example("Changed", {**CONTRACT, "committed_seats": 5,
                                 "updated_at": "2026-10-05T10:00:00Z"}),
]
MIGRATION_LIST = [response_example("A scheduled migration", MIGRATION)]
MIGRATION_CREATE = [
    request_example("Move to version 2 in December", {"plan_version": 2,
                                                      "effective_date": "2026-12-01",
                                                      "notice_days": 30}),
    response_example("Scheduled", MIGRATION, status=201),
]
MIGRATION_GET = [response_example("A scheduled migration", MIGRATION)]
MIGRATION_CANCEL = [response_example("Canceled", {**MIGRATION, "status": "canceled",
                                                  "pending": False})]
