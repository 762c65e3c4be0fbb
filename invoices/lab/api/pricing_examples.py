"""Examples of the pricing lab's archetypes and recommendations API, for the OpenAPI
schema: the hand-computable book of docs/lab.md (five customers on "team", October 2026)."""

from __future__ import annotations

from common.api.schema import request_example, response_example

SEAT_COST = {"p20": "4.20", "p50": "10.00", "p80": "26.00", "p95": "44.00"}
SEAT_USAGE = {"tasks": {"p20": "42", "p50": "100", "p80": "260", "p95": "440"}}

ARCHETYPES = [response_example("Five customer-periods", {
    "plan": "team", "periods": 1, "currency": "USD", "customer_periods": 5,
    "zero_seat_periods": 1, "seat_cost": SEAT_COST, "seat_usage": SEAT_USAGE,
})]

REQUEST = {"plan": "team", "periods": 3, "percentile": 80, "target_margin": "0.7", "share": "0.8"}
RECOMMENDATION = [response_example("Seat-only is unsafe here", {
    "plan": "team", "periods": 1, "currency": "USD", "customer_periods": 5,
    "zero_seat_periods": 1, "percentile": 80, "target_margin": "0.7", "share": "0.8",
    "seat_cost": SEAT_COST, "seat_cost_at_percentile": "26.00", "seat_price": "86.67",
    "usage_at_share": {"tasks": "260"}, "included_per_seat": {"tasks": 260},
    "within_allowance": {"tasks": 4}, "spread": "10.48", "seat_only_unsafe": True,
    "money_at_stake": "24.50", "covered_seat_cost": "26.001", "periods_above": 2,
    "cost_of_periods_above": "50.50",
})]

_NO_PRICES = {"package_size": None, "package_price": None, "included_units": "0",
              "filters": {}, "tiers": []}
DRAFT = [
    request_example("P80 at a 70 % margin", REQUEST,
                    summary="The defaults, over each customer's last three periods"),
    response_example("The draft version", {
        "plan": "team", "version": 3, "status": "draft", "effective_from": "2026-11-01",
        "currency": "USD", "billing_interval": "month", "seat_price": "86.67",
        "base_fee": "0.00",
        "charges": [{**_NO_PRICES, "metric": "tasks", "model": "per_unit",
                     "unit_price": "0.05", "included_per_seat": "260"}],
        "published_at": None, "created_at": "2026-11-01T09:00:00Z",
    }, status=201),
]
