"""One set of as_of rules for every way a run starts: the service, the hourly task and
``manage.py billing_run``; a queued run is started once however often it is delivered."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from invoices.models import BillingRun, Invoice
from invoices.services.run_queue import (
    billing_as_of_check,
    billing_run_begin,
    billing_run_request,
)
from invoices.tasks import bill_customers, run_billing
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 2, 12)


def test_as_of_check_accepts_the_past_and_converts_to_utc():
    worked_example()
    as_of = dt.datetime(2026, 11, 1, 3, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    checked = billing_as_of_check(as_of=as_of, now=NOW)
    assert checked == at(2026, 11, 1, 1) and checked.tzinfo == dt.UTC


@pytest.mark.parametrize(
    ("as_of", "words"),
    [
        (NOW + dt.timedelta(seconds=301), "in the future"),
        (at(2027, 11, 2, 12), "in the future"),
        (at(2697, 8, 17, 14), "2200"),
        (at(2026, 9, 30, 23), "before the earliest contract start"),
        (dt.datetime(613, 4, 20, tzinfo=dt.UTC), "1970"),
        (dt.datetime(2026, 11, 1, 1), "timezone"),
    ],
)
def test_as_of_check_refuses_naming_as_of(as_of, words):
    worked_example()
    with pytest.raises(ValidationError) as error:
        billing_as_of_check(as_of=as_of, now=NOW)
    assert words in error.value.message_dict["as_of"][0]


def test_as_of_check_has_no_earliest_bound_without_contracts():
    assert billing_as_of_check(as_of=at(1999, 1, 1), now=NOW) == at(1999, 1, 1)


def test_request_records_a_queued_run_and_does_no_work():
    worked_example()

    run = billing_run_request(as_of=at(2026, 11, 1, 1), now=NOW)

    assert run.status == BillingRun.Status.QUEUED and run.requested_at == NOW
    assert run.started_at is None and run.periods_due == 0
    assert Invoice.objects.count() == 0


def test_a_run_delivered_twice_queues_its_chunks_once():
    worked_example()
    run = billing_run_request(as_of=at(2026, 11, 1, 1), now=NOW)

    started, parts = billing_run_begin(run_id=run.pk, now=NOW)
    again, more = billing_run_begin(run_id=run.pk, now=NOW)

    assert started.status == BillingRun.Status.RUNNING and len(parts) == 1
    assert more == [] and again.status == BillingRun.Status.RUNNING


def test_hourly_task_refuses_a_future_as_of_without_recording_a_run():
    worked_example()
    with time_machine.travel(NOW, tick=False):
        assert run_billing(as_of="2697-08-17T14:47:15+00:00") is None
    assert BillingRun.objects.count() == 0


def test_a_task_that_cannot_start_the_run_closes_it_as_failed():
    worked_example()
    run = billing_run_request(as_of=at(2026, 11, 1, 1), now=NOW)

    with (mock.patch.object(bill_customers, "delay", side_effect=RuntimeError("broker gone")),
          pytest.raises(RuntimeError)):
        run_billing(run_id=str(run.pk))

    run.refresh_from_db()
    assert run.status == BillingRun.Status.FAILED and run.error == "RuntimeError: broker gone"


@pytest.mark.parametrize("as_of", ["2697-08-17T14:47:15Z", "0613-04-20T04:07:40Z",
                                   "2026-09-01T00:00:00Z", "soon", "2026-11-01T01:00:00"])
def test_command_refuses_the_same_as_of_the_api_refuses(as_of):
    worked_example()
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError):
        call_command("billing_run", "--as-of", as_of)
    assert BillingRun.objects.count() == 0


def test_command_queue_records_the_run_and_hands_it_to_the_worker(capsys):
    worked_example()
    with time_machine.travel(NOW, tick=False):
        call_command("billing_run", "--as-of", "2026-11-01T01:00:00Z", "--queue")

    run = BillingRun.objects.get()
    assert f"queued billing run {run.pk}" in capsys.readouterr().out
    assert run.status == BillingRun.Status.DONE and run.invoices_created == 1  # eager worker
