"""POST /billing-runs queues a run for the worker (202) and GET shows its progress; as_of
is neither in the future nor before the earliest contract, and never out of range."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from kombu.exceptions import OperationalError

from invoices.models import BillingRun, Invoice
from invoices.tasks import run_billing
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 2, 12)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def post_run(api, body):
    return api.post("/api/v1/billing-runs", body, format="json")


def assert_as_of_refused(response) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert list(body["errors"]) == ["as_of"]
    return body["errors"]["as_of"][0]


@pytest.mark.parametrize("as_of", ["2697-08-17T14:47:15Z", "9628-10-26T00:00:00Z",
                                   "0613-04-20T04:07:40Z", "0376-01-01T00:00:00Z"])
def test_as_of_outside_the_supported_years_is_refused_and_nothing_runs(api, frozen, as_of):
    worked_example()

    message = assert_as_of_refused(post_run(api, {"as_of": as_of}))

    assert "1970" in message and "2200" in message
    assert BillingRun.objects.count() == 0 and Invoice.objects.count() == 0


def test_as_of_a_year_ahead_is_refused_as_the_future(api, frozen):
    worked_example()

    message = assert_as_of_refused(post_run(api, {"as_of": "2027-11-02T12:00:00Z"}))

    assert "future" in message
    assert BillingRun.objects.count() == 0 and Invoice.objects.count() == 0


def test_as_of_within_the_clock_skew_tolerance_is_accepted_and_just_beyond_it_refused(
        api, frozen, settings):
    settings.BILLING_AS_OF_SKEW_SECONDS = 300
    worked_example()

    assert post_run(api, {"as_of": "2026-11-02T12:05:00Z"}).status_code == 202
    assert_as_of_refused(post_run(api, {"as_of": "2026-11-02T12:05:01Z"}))


def test_as_of_before_the_earliest_contract_start_is_refused(api, frozen):
    worked_example(start=dt.date(2026, 10, 1))

    message = assert_as_of_refused(post_run(api, {"as_of": "2026-09-30T23:59:59Z"}))

    assert "earliest contract start (2026-10-01)" in message
    assert BillingRun.objects.count() == 0


@pytest.mark.parametrize("body", [{"as_of": "yesterday"}, {"as_of": 12}, {"as_of": None},
                                  {"as_of": "2026-11-01T01:00:00Z\x00"}])
def test_malformed_as_of_is_refused(api, frozen, body):
    worked_example()
    assert_as_of_refused(post_run(api, body))


def test_an_unknown_field_is_refused(api, frozen):
    response = post_run(api, {"as_of": "2026-11-01T01:00:00Z", "customer": "acme"})
    assert response.status_code == 400 and "customer" in response.json()["errors"]


def test_post_answers_202_with_the_run_and_get_shows_its_progress(api, frozen):
    worked_example()

    response = post_run(api, {"as_of": "2026-11-01T01:00:00Z"})

    # Tasks run eagerly in the test settings, so the queued run has finished already.
    assert response.status_code == 202, response.content
    run = response.json()
    assert response["Location"] == f"/api/v1/billing-runs/{run['id']}"
    detail = api.get(f"/api/v1/billing-runs/{run['id']}").json()
    assert {k: detail[k] for k in ("as_of", "status", "error", "periods_due", "invoices_created",
                                   "chunks_done", "chunks_total", "failures", "requested_at")} == {
        "as_of": "2026-11-01T01:00:00Z", "status": "done", "error": "", "periods_due": 1,
        "invoices_created": 1, "chunks_done": 1, "chunks_total": 1, "failures": [],
        "requested_at": "2026-11-02T12:00:00Z",
    }
    assert Invoice.objects.count() == 1


def test_post_defaults_as_of_to_now(api, frozen):
    worked_example()

    run = post_run(api, {}).json()

    assert run["as_of"] == "2026-11-02T12:00:00Z" and run["invoices_created"] == 1


def test_the_view_only_queues_the_run_and_the_worker_rates_it(api, frozen):
    worked_example()

    with mock.patch.object(run_billing, "delay") as delay:
        response = post_run(api, {"as_of": "2026-11-01T01:00:00Z"})

    run_id = response.json()["id"]
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["started_at"] is None
    delay.assert_called_once_with(run_id=run_id)
    assert Invoice.objects.count() == 0  # nothing was rated inside the request
    assert api.get(f"/api/v1/billing-runs/{run_id}").json()["status"] == "queued"

    run_billing(**delay.call_args.kwargs)  # what the worker does with the message

    run = BillingRun.objects.get(pk=run_id)
    assert run.status == BillingRun.Status.DONE and run.invoices_created == 1
    assert run.started_at == NOW


def test_a_broker_that_is_down_is_a_503_and_the_run_is_closed_as_failed(api, frozen):
    worked_example()

    with mock.patch.object(run_billing, "delay", side_effect=OperationalError("refused")):
        response = post_run(api, {"as_of": "2026-11-01T01:00:00Z"})

    assert response.status_code == 503
    run = BillingRun.objects.get()
    assert run.status == BillingRun.Status.FAILED and "Could not queue" in run.error
    assert response.json()["run"] == str(run.pk)


def test_a_contract_with_too_many_periods_due_is_a_recorded_failure(api, frozen, settings):
    settings.BILLING_MAX_PERIODS_PER_CONTRACT_RUN = 3
    worked_example(external_id="old", start=dt.date(2026, 5, 1))  # 6 periods due
    worked_example(external_id="acme")

    run = post_run(api, {"as_of": "2026-11-01T01:00:00Z"}).json()

    assert run["status"] == "failed" and run["invoices_created"] == 1
    (failure,) = run["failures"]
    assert failure["customer"] == "old"
    assert "6 periods due" in failure["error"] and "3 one run may bill" in failure["error"]
    assert list(Invoice.objects.values_list("customer__external_id", flat=True)) == ["acme"]


def test_billing_runs_list_is_paginated_newest_first(api, frozen):
    worked_example()
    first = post_run(api, {"as_of": "2026-11-01T01:00:00Z"}).json()
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False):
        second = post_run(api, {"as_of": "2026-11-01T02:00:00Z"}).json()

    page = api.get("/api/v1/billing-runs?limit=1").json()

    assert page["count"] == 2 and [r["id"] for r in page["results"]] == [second["id"]]
    assert api.get("/api/v1/billing-runs?limit=1&offset=1").json()["results"][0]["id"] == first["id"]
