"""Request and response examples of the customer and seat API, for the OpenAPI schema
(the SPEC section 7 shapes)."""

from __future__ import annotations

from common.api.schema import request_example, response_example

CUSTOMER = {
    "external_id": "acme", "name": "Acme", "email": "billing@acme.test", "currency": "USD",
    "archived": False, "stripe_customer_id": "", "created_at": "2026-10-01T08:00:00Z",
    "updated_at": "2026-10-01T08:00:00Z",
}
SEAT = {
    "id": 1, "customer": "acme", "email": "alice@acme.test", "name": "Alice",
    "active_from": "2026-10-01T00:00:00Z", "active_until": None,
    "created_at": "2026-10-01T08:00:00Z", "updated_at": "2026-10-01T08:00:00Z",
}

CUSTOMER_LIST = [response_example("A customer", CUSTOMER)]
CUSTOMER_CREATE = [
    request_example("New customer", {"external_id": "acme", "name": "Acme",
                                     "email": "billing@acme.test", "currency": "USD"}),
    response_example("Created", CUSTOMER, status=201),
]
CUSTOMER_GET = [response_example("A customer", CUSTOMER)]
CUSTOMER_UPDATE = [
    request_example("Rename", {"name": "Acme Corp"}),
    request_example("Archive", {"archived": True}, summary="Archive (kept, hidden from "
                                                           "archived=false listings)"),
    response_example("Changed", {**CUSTOMER, "name": "Acme Corp",
                                 "updated_at": "2026-10-02T09:30:00Z"}),
]
SEAT_LIST = [response_example("A seat", SEAT)]
SEAT_CREATE = [
    request_example("New seat", {"email": "alice@acme.test", "name": "Alice",
                                 "active_from": "2026-10-01T00:00:00Z", "active_until": None}),
    response_example("Created", SEAT, status=201),
]
SEAT_GET = [response_example("A seat", SEAT)]
SEAT_UPDATE = [
    request_example("End the seat", {"active_until": "2026-10-22T00:00:00Z"},
                    summary="Alice leaves on 22 October"),
    response_example("Changed", {**SEAT, "active_until": "2026-10-22T00:00:00Z",
                                 "updated_at": "2026-10-21T17:00:00Z"}),
]
