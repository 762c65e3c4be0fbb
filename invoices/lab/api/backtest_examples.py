"""Request and response examples of the backtest API, for the OpenAPI schema: three
customers on plan "team" moving from 30.00 a seat to 20.00 a seat plus tasks."""

from __future__ import annotations

from common.api.schema import request_example, response_example

ID = "3f0c2a8e-5b1d-4a57-9d43-0b6f0f8f6d21"
_ROW = {"period_start": "2026-10-01T00:00:00Z", "period_end": "2026-11-01T00:00:00Z",
        "currency": "USD", "current_version": 1, "invoiced": True}
RESULTS = [
    {**_ROW, "customer": "heavy", "current_total": "30.00", "candidate_total": "65.00",
     "change": "35.00", "provider_cost": "20.00", "billed_seats": "1.000000"},
    {**_ROW, "customer": "light", "current_total": "60.00", "candidate_total": "40.00",
     "change": "-20.00", "provider_cost": "1.00", "billed_seats": "2.000000"},
    {**_ROW, "customer": "whale", "current_total": "30.00", "candidate_total": "265.00",
     "change": "235.00", "provider_cost": "100.00", "billed_seats": "1.000000"},
]
SUMMARY = {
    "currency": "USD", "current_total": "120.00", "candidate_total": "370.00",
    "change": "250.00", "provider_cost": "121.00", "margin_before": "-1.00",
    "margin_after": "249.00", "margin_rate_before": "-0.0083", "margin_rate_after": "0.6730",
    "customers": 3, "customers_paying_more": 2, "customers_paying_less": 1,
    "customers_unchanged": 0,
    "biggest_winners": [{"customer": "light", "current_total": "60.00",
                         "candidate_total": "40.00", "change": "-20.00",
                         "provider_cost": "1.00"}],
    "biggest_losers": [
        {"customer": "whale", "current_total": "30.00", "candidate_total": "265.00",
         "change": "235.00", "provider_cost": "100.00"},
        {"customer": "heavy", "current_total": "30.00", "candidate_total": "65.00",
         "change": "35.00", "provider_cost": "20.00"}],
}
DONE = {
    "id": ID, "status": "done", "progress": 1, "customers_total": 3, "customers_done": 3,
    "plan": "team", "plan_version": 2, "periods": 1, "customers": [],
    "as_of": "2026-11-02T09:00:00Z", "error": "", "failures": [],
    "created_at": "2026-11-02T09:00:00Z", "started_at": "2026-11-02T09:00:01Z",
    "finished_at": "2026-11-02T09:00:03Z", "results_count": len(RESULTS), "next": None,
    "results": RESULTS, "summary": SUMMARY,
}
_EMPTY_SUMMARY = {**SUMMARY, "current_total": "0.00", "candidate_total": "0.00",
                  "change": "0.00", "provider_cost": "0.00", "margin_before": "0.00",
                  "margin_after": "0.00", "margin_rate_before": None, "margin_rate_after": None,
                  "customers": 0, "customers_paying_more": 0, "customers_paying_less": 0,
                  "biggest_winners": [], "biggest_losers": []}
RUNNING = {**DONE, "status": "running", "progress": 0.5, "customers_total": 10000,
           "customers_done": 5000, "finished_at": None, "results_count": 0, "results": [],
           "summary": _EMPTY_SUMMARY}

CREATE = [
    request_example("Every customer on the plan", {"plan": "team", "plan_version": 2,
                                                   "periods": 3},
                    summary="Backtest version 2 of team on everyone's last three periods"),
    request_example("Some customers", {"plan": "team", "plan_version": 2, "periods": 3,
                                       "customers": ["acme"]}),
    response_example("Queued", {"id": ID, "status": "queued", "progress": 0}, status=202),
]
GET = [response_example("Done", DONE), response_example("Running", RUNNING)]
