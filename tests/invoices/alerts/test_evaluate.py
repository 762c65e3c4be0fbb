"""Evaluating alerts after a rollup: each crossing recorded, emailed and published once per
period, also when the evaluation runs twice (or twice at once, on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal as D

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.outbound.models import Delivery
from accounts.outbound.services import endpoint_create
from invoices.alerts.models import AlertCrossing
from invoices.alerts.services import alert_email_send, alert_settings_update, alerts_evaluate
from invoices.alerts.status import metric_aggregations, period_status_of, period_statuses
from invoices.models import Invoice
from invoices.selectors.preview import upcoming_invoice
from invoices.services import billing_run, invoice_finalize
from plans.services import contract_schedule_migration
from tests.accounts.outbound.receiver import start_receiver
from tests.factories import make_version
from tests.invoices.alerts.conftest import NOW
from tests.invoices.billing_fixtures import add_events, at, worked_example

pytestmark = pytest.mark.django_db
ALLOWANCE = 4322  # 4 seats all October, a fifth from the 22nd: 4.322 seats × 1,000 tasks


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


def evaluate(capture, now=NOW, **kwargs):
    with time_machine.travel(now, tick=False), capture(execute=True):
        return alerts_evaluate(now=now, **kwargs)


def test_crossing_80_percent_is_emailed_published_and_recorded_once(
        customer, receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="ops", url=receiver.url, event_types=["alert.triggered"])
    add_events(customer, count=3500, when=at(2026, 10, 10))  # 81 % of 4,322
    (row,) = evaluate(django_capture_on_commit_callbacks)
    assert (row.key, row.kind, row.threshold, row.value, row.allowance) == (
        "usage:tasks:80", "usage_percent", D(80), D(3500), D(ALLOWANCE))
    assert row.period_start == at(2026, 10, 1) and row.period_end == at(2026, 11, 1)
    row.refresh_from_db()
    assert row.emailed_at == NOW and row.recipients == [customer.email]

    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert "Tasks completed: 80% of the allowance used (3,500 of 4,322)" in message.subject
    assert "Used so far: 3,500 of 4,322 included." in message.body

    (request,) = receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "alert.triggered" and body["id"] == f"alert.triggered:{row.pk}"
    assert body["data"]["alert"] | {} == {
        "id": row.pk, "customer": customer.external_id, "customer_name": customer.name,
        "kind": "usage_percent", "key": "usage:tasks:80", "threshold": "80",
        "charge_key": "tasks", "metric": "tasks", "value": "3500", "allowance": "4322",
        "currency": "USD", "period_start": "2026-10-01T00:00:00Z",
        "period_end": "2026-11-01T00:00:00Z", "crossed_at": "2026-10-25T12:00:00Z",
    }


def test_a_second_run_sends_nothing_new_and_the_next_threshold_is_sent_alone(
        customer, receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="ops", url=receiver.url)
    add_events(customer, count=3500, when=at(2026, 10, 10))
    assert len(evaluate(django_capture_on_commit_callbacks)) == 1
    assert evaluate(django_capture_on_commit_callbacks, now=NOW + dt.timedelta(minutes=5)) == []
    assert len(mail.outbox) == 1 and len(receiver.requests) == 1

    add_events(customer, count=900, when=at(2026, 10, 25, 13))  # 4,400: past the allowance
    later = NOW + dt.timedelta(hours=2)
    (row,) = evaluate(django_capture_on_commit_callbacks, now=later)
    assert row.key == "usage:tasks:100"
    assert AlertCrossing.objects.count() == 2
    assert len(mail.outbox) == 2 and len(receiver.requests) == 2
    assert Delivery.objects.filter(status="succeeded").count() == 2


def test_a_new_period_alerts_again(customer, django_capture_on_commit_callbacks):
    add_events(customer, count=3500, when=at(2026, 10, 10))
    assert [r.key for r in evaluate(django_capture_on_commit_callbacks)] == ["usage:tasks:80"]
    add_events(customer, count=4000, when=at(2026, 11, 20))
    november = at(2026, 11, 25, 12)
    (row,) = evaluate(django_capture_on_commit_callbacks, now=november)
    assert (row.key, row.period_start) == ("usage:tasks:80", at(2026, 11, 1))


def test_spend_and_projected_bill_thresholds_and_named_recipients(
        customer, django_capture_on_commit_callbacks):
    alert_settings_update(customer=customer, usage_percents=["95"], spend_amounts=["150"],
                          projected_amounts=["200", "100000"],
                          recipients=["Finance@Acme.test", "cto@acme.test"])
    # 4,000 tasks by the 25th: 92.5 % used (no 95 % alert); the pace passes the allowance.
    add_events(customer, count=4000, when=at(2026, 10, 10))
    rows = evaluate(django_capture_on_commit_callbacks)
    assert sorted(r.key for r in rows) == ["projected:200", "spend:150"]
    spend = next(r for r in rows if r.kind == "spend")
    projected = next(r for r in rows if r.kind == "projected_spend")
    assert spend.value == D("172.90")  # the seats: max(3 committed, 4.322) × 40
    # 4,000 × 31 / 24.5 = 5,061 tasks at the end: 739 over the allowance at 0.05.
    assert projected.value == D("172.90") + D("36.95")
    assert {tuple(m.to) for m in mail.outbox} == {("cto@acme.test", "finance@acme.test")}


def test_customers_without_a_contract_in_force_are_not_evaluated(
        customer, django_capture_on_commit_callbacks):
    add_events(customer, count=5000, when=at(2026, 10, 10))
    assert evaluate(django_capture_on_commit_callbacks, now=at(2026, 9, 15)) == []


def test_an_email_lost_after_the_commit_is_sent_by_a_later_run_once(
        customer, django_capture_on_commit_callbacks):
    add_events(customer, count=3500, when=at(2026, 10, 10))
    with time_machine.travel(NOW, tick=False):
        (row,) = alerts_evaluate(now=NOW)  # its on-commit email never ran (a killed worker)
    assert mail.outbox == []
    assert evaluate(django_capture_on_commit_callbacks,
                    now=NOW + dt.timedelta(minutes=5)) == []
    assert mail.outbox == []  # too fresh: its own on-commit send may still be on its way
    evaluate(django_capture_on_commit_callbacks, now=NOW + dt.timedelta(minutes=11))
    evaluate(django_capture_on_commit_callbacks, now=NOW + dt.timedelta(minutes=16))
    assert len(mail.outbox) == 1
    assert not alert_email_send(crossing_id=row.pk, now=NOW)


def test_evaluation_takes_the_same_queries_for_four_customers_as_for_one(
        team, django_capture_on_commit_callbacks):
    def queries(count: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            evaluate(django_capture_on_commit_callbacks, customer_ids=ids[:count])
        return len(captured)

    ids = []
    for n in range(4):
        contract = worked_example(version=team, external_id=f"c{n}", tasks=0)
        add_events(contract.customer, count=100, when=at(2026, 10, 10))  # no crossing
        alert_settings_update(customer=contract.customer, spend_amounts=["1000", "2000"],
                              usage_percents=[str(p) for p in range(10, 100, 10)])
        ids.append(contract.customer.pk)
    assert queries(4) == queries(1) <= 20  # batched per chunk, not per customer


def test_the_batched_status_is_the_upcoming_invoices(team):
    """The chunk's statuses equal what each customer's upcoming invoice (the dashboard's
    estimate) gives, late usage of an earlier invoice and a migration included."""
    plain = worked_example(version=team, external_id="plain", tasks=3000)
    late = worked_example(version=team, external_id="late", tasks=4000)
    billing_run(as_of=at(2026, 11, 1, 2), now=at(2026, 11, 1, 2))
    for invoice in Invoice.objects.filter(status="draft"):
        invoice_finalize(invoice=invoice, now=at(2026, 11, 2))
    # October events arriving in November, past its allowance: late usage on November's bill.
    add_events(late.customer, count=700, when=at(2026, 10, 30), received_at=at(2026, 11, 10))
    add_events(late.customer, count=2000, when=at(2026, 11, 12))
    add_events(plain.customer, count=500, when=at(2026, 11, 3))
    v2 = make_version(plan=team.plan, effective_from=dt.date(2026, 11, 1), seat_price="30.00",
                      charges=[{"metric": "tasks", "model": "per_unit", "unit_price": "0.04",
                                "included_per_seat": 500}])
    contract_schedule_migration(contract=plain, plan_version=v2,
                                effective_date=dt.date(2026, 12, 1), today=dt.date(2026, 10, 2))
    for now in (at(2026, 11, 20, 12), at(2026, 12, 5, 8)):
        aggregations = metric_aggregations()
        batched = period_statuses(customer_ids=[plain.customer_id, late.customer_id], at=now,
                                  aggregations=aggregations)
        for contract in (plain, late):
            upcoming = upcoming_invoice(customer=contract.customer, at=now)
            assert batched[contract.customer_id] == period_status_of(
                upcoming, at=now, aggregations=aggregations)
    assert any(line.kind == "late_usage" for line in upcoming_invoice(
        customer=late.customer, at=at(2026, 11, 20, 12)).rated.lines)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_record_and_send_each_crossing_once(customer):
    receiver, server = start_receiver()
    try:
        endpoint_create(name="ops", url=receiver.url)
        add_events(customer, count=4400, when=at(2026, 10, 10))  # both 80 % and 100 %
        barrier = threading.Barrier(2)
        created: list[int] = []
        errors: list[BaseException] = []

        def run():
            try:
                barrier.wait()
                created.extend(r.pk for r in alerts_evaluate(now=NOW))
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(created) == 2
        assert sorted(AlertCrossing.objects.values_list("key", flat=True)) == [
            "usage:tasks:100", "usage:tasks:80"]
        assert len(mail.outbox) == 2
        assert sorted(json.loads(r.body)["data"]["alert"]["key"] for r in receiver.requests) == [
            "usage:tasks:100", "usage:tasks:80"]
    finally:
        server.shutdown()
        server.server_close()
