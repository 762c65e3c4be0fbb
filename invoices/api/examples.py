"""Request and response examples of the invoice and billing-run API, for the OpenAPI
schema: the SPEC section 2 worked example (October 2026, total 216.80)."""

from __future__ import annotations

from common.api.schema import request_example, response_example

_LINE = {"metric": None, "value": None, "included": None, "billable": None, "tiers": [],
         "period_start": None, "period_end": None}
LINES = [
    {**_LINE, "kind": "seat", "description": "Seats: 4.322581 × 40.00",
     "quantity": "4.322581", "unit_price": "40.00", "amount": "172.90"},
    {**_LINE, "kind": "usage",
     "description": "Tasks completed: 5200 used, 4322 included, 878 billable × 0.05",
     "quantity": "878", "unit_price": "0.05", "amount": "43.90", "metric": "tasks",
     "value": "5200", "included": "4322", "billable": "878"},
]
DRAFT = {
    "id": "edf764ca-a423-424b-8129-250291ddf152", "customer": "acme", "status": "draft",
    "number": None, "period_start": "2026-10-01T00:00:00Z",
    "period_end": "2026-11-01T00:00:00Z", "currency": "USD", "plan": "team", "plan_version": 1,
    "lines": LINES, "total": "216.80", "seat_equivalents": "4.322581",
    "billed_seats": "4.322581", "on_hold": False, "contract": 1,
    "created_at": "2026-11-01T01:00:02Z", "rated_at": "2026-11-01T01:00:02Z",
    "finalized_at": None, "paid_at": None, "voided_at": None, "payment_failed_at": None,
    "stripe_state": "not_synced", "stripe_invoice_id": None,
}
FINALIZED = {**DRAFT, "status": "finalized", "number": "USD-000042",
             "finalized_at": "2026-11-02T09:00:00Z", "stripe_state": "synced",
             "stripe_invoice_id": "in_1QAcme"}
VOIDED = {**FINALIZED, "status": "void", "voided_at": "2026-11-03T10:00:00Z"}

INVOICE_LIST = [response_example("An invoice", FINALIZED)]
INVOICE_GET = [response_example("A draft", DRAFT), response_example("Finalized", FINALIZED)]
INVOICE_FINALIZE = [response_example("Finalized", FINALIZED)]
INVOICE_VOID = [response_example("Voided", VOIDED)]
INVOICE_MARK_PAID = [
    request_example("Paid by bank transfer", {"paid_at": "2026-11-20T10:00:00Z"}),
    response_example("Paid", {**FINALIZED, "status": "paid", "paid_at": "2026-11-20T10:00:00Z",
                              "stripe_state": "pending"}),
]
UPCOMING = [response_example("October so far", {
    **DRAFT, "id": None, "created_at": None, "rated_at": None, "stripe_state": None,
    "upcoming": True, "at": "2026-10-20T08:00:00Z", "invoice": None,
})]

RUN = {
    "id": "f2ec3c40-a4ec-40c2-9d35-b583c4796691", "as_of": "2026-11-01T01:00:00Z",
    "status": "queued", "error": "", "periods_due": 0, "invoices_created": 0,
    "drafts_rerated": 0, "customers_total": 0, "chunks_total": 0, "chunks_done": 0,
    "failures": [], "requested_at": "2026-11-01T01:00:00Z", "started_at": None,
    "finished_at": None,
}
RUN_DONE = {**RUN, "status": "done", "periods_due": 30, "invoices_created": 30,
            "customers_total": 30, "chunks_total": 1, "chunks_done": 1,
            "started_at": "2026-11-01T01:00:01Z", "finished_at": "2026-11-01T01:00:09Z"}
RUN_LIST = [response_example("A finished run", RUN_DONE)]
RUN_CREATE = [
    request_example("As of now", {}, summary="Bill every period due now"),
    request_example("As of a moment", {"as_of": "2026-11-01T01:00:00Z"},
                    summary="Bill what was due at 01:00 UTC on 1 November"),
    response_example("Queued", RUN, status=202),
]
RUN_GET = [response_example("Running", {**RUN_DONE, "status": "running", "chunks_done": 0,
                                        "invoices_created": 12, "finished_at": None}),
           response_example("Done", RUN_DONE)]
