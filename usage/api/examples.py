"""Request and response examples of the usage API, for the OpenAPI schema. The event is
the one of SPEC section 5: what the product sends at every AI call."""

from __future__ import annotations

from common.api.schema import request_example, response_example

EVENT = {
    "transaction_id": "0b7f6c1e-3f0a-4c55-9a57-2f0c8d9e4b21", "customer": "acme",
    "event_type": "ai.call", "timestamp": "2026-10-05T12:00:00Z",
    "properties": {"model": "gpt-4.1-mini", "input_tokens": 1200, "output_tokens": 300,
                   "total_tokens": 1500, "latency_tier": "realtime", "seat": "alice@acme.test",
                   "initiated_by": "agent"},
}
TASK = {"transaction_id": "task-8841", "customer": "acme", "event_type": "task.completed",
        "timestamp": "2026-10-05T12:00:04Z", "properties": {"seat": "alice@acme.test"}}
ACCEPTED = {"accepted": 1, "duplicates": 0, "rejected": []}
TOO_FAR_AHEAD = ["More than 300 seconds in the future (accepted until "
                 "2026-10-05T12:05:00+00:00)."]

EVENTS_INGEST = [
    request_example("One AI call", EVENT, summary="One event (SPEC section 5)",
                    description="An AI call with its tokens, model and seat: the metrics "
                                "that match it count it, and the model's provider price "
                                "gives its cost."),
    request_example("A batch", {"events": [EVENT, TASK]},
                    summary="Up to 1,000 events in one request"),
    response_example("Stored", ACCEPTED, summary="Every event stored"),
    response_example("Sent twice", {"accepted": 0, "duplicates": 1, "rejected": []},
                     summary="A retry: the transaction_id was already stored, counted once"),
    response_example("A batch with one bad event", {
        "accepted": 1, "duplicates": 0,
        "rejected": [{"index": 1, "errors": {"timestamp": TOO_FAR_AHEAD}}],
    }, summary="The good events are kept; each bad one is named by its index"),
    response_example("One event, rejected", {
        "detail": f"The event was rejected: timestamp: {TOO_FAR_AHEAD[0]}",
        "errors": {"timestamp": TOO_FAR_AHEAD},
        "accepted": 0, "duplicates": 0,
        "rejected": [{"index": 0, "errors": {"timestamp": TOO_FAR_AHEAD}}],
    }, status=400, summary="A single event that is refused is a 400 naming its field"),
]

CUSTOMER_USAGE = [response_example("One day of Acme's usage", {
    "customer": "acme", "start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z",
    "metrics": [
        {"code": "tasks", "name": "Tasks completed", "aggregation": "count", "value": "212"},
        {"code": "tokens_rt", "name": "Realtime tokens", "aggregation": "sum",
         "value": "1500"},
    ],
    "provider_cost": {
        "total": "0.00096",
        "by_model": [{"model": "gpt-4.1-mini", "calls": 1, "input_tokens": "1200",
                      "output_tokens": "300", "cost": "0.00096", "unpriced": 0}],
        "by_seat": [{"seat": "alice@acme.test", "calls": 1, "total_tokens": "1500",
                     "cost": "0.00096"}],
    },
})]
