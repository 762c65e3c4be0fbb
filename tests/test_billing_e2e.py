"""End to end, issue 4: real ingestion, a real Celery beat and worker over Redis on this
test's PostgreSQL database, and the local Stripe-compatible server.

SPEC 2's worked example goes in through ``POST /api/v1/events``; beat drives the billing
run (and the usage rollup) every second; the draft is finalized through the API, whose
commit queues the Stripe sync on Redis for the worker; a signed ``invoice.paid`` webhook
is processed by the worker. Beat keeps billing throughout, and the period still has
exactly one invoice, and Stripe one invoice with one item per line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from billing_site.celery import app as celery_app
from invoices.models import BillingRun, Invoice, StripeEvent
from invoices.stripe.steps import stripe_client
from plans.services import contract_create
from tests.celery_processes import (
    Broker,
    redis_broker_or_skip,
    start_celery,
    stop,
    test_database_url,
)
from tests.factories import CustomerFactory
from tests.fakestripe import FakeStripe, make_event, sign_webhook_payload
from tests.invoices.billing_fixtures import add_seat, at, team_version
from usage.models import Event

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# Its own Redis database, so it can run next to test_worker_e2e (db 9).
REDIS_URL = os.environ.get("E2E_BILLING_BROKER_URL", "redis://127.0.0.1:6379/10")
WAIT_SECONDS = 60
WEBHOOK_SECRET = "whsec_e2e"
# The worked example's events are from October 2026; ingestion refuses events older than
# the backfill window, whatever today is.
BACKFILL_DAYS = 100_000
TASKS = 5200
OCTOBER = (at(2026, 10, 1), at(2026, 11, 1))


# --------------------------------------------------------------------------- processes










def _drop_broker_pools() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    with contextlib.suppress(AttributeError, KeyError):
        celery_app.__dict__["amqp"]._producer_pool = None


@contextlib.contextmanager
def _tasks_sent_to(broker: Broker) -> Iterator[None]:
    """Make this (web) process queue tasks on ``broker`` instead of running them
    eagerly, as the test settings do: the finalize and the webhook view must hand their
    work to the real worker, as in production."""
    conf = celery_app.conf
    names = ("broker_url", "task_always_eager", "broker_transport_options")
    saved = {name: conf[name] for name in names}
    _drop_broker_pools()
    conf.update(broker_url=broker.url, task_always_eager=False,
                broker_transport_options={"global_keyprefix": broker.prefix})
    try:
        yield
    finally:
        _drop_broker_pools()
        conf.update(saved)


class Waiter:
    def __init__(self, logs: list[Path]):
        self.logs = logs

    def until(self, check: Callable[[], Any], what: str) -> Any:
        """Polls ``check()`` until truthy; bounded, so a broken worker fails, not hangs."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.25)
        tails = "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for log in self.logs)
        pytest.fail(f"{what}: not after {WAIT_SECONDS}s; process logs:\n{tails}")

    def log_line(self, log: Path, pattern: str, what: str) -> str:
        regex = re.compile(pattern)
        return self.until(lambda: (m := regex.search(log.read_text())) and m.group(0), what)


# --------------------------------------------------------------------------- scenario


def _october_events() -> list[dict]:
    # Spread over the whole month (every 500 s from Oct 1 00:00 to Oct 31 02:10), so the
    # usage spans hundreds of rollup hours.
    start = OCTOBER[0]
    return [
        {"transaction_id": f"e2e-task-{i}", "customer": "acme", "event_type": "task.completed",
         "timestamp": (start + dt.timedelta(seconds=500 * i)).isoformat()}
        for i in range(TASKS)
    ]


def _ingest(ingest_api) -> None:
    events = _october_events()
    accepted = 0
    for i in range(0, len(events), 1000):
        response = ingest_api.post("/api/v1/events", {"events": events[i:i + 1000]},
                                   format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["rejected"] == [] and body["duplicates"] == 0, body
        accepted += body["accepted"]
    assert accepted == TASKS


def _worked_example(ingest_api):
    """SPEC 2: seat 40.00, tasks 0.05 per unit with 1,000 included per seat, 3 committed
    seats from 2026-10-01; 4 seats all October and a fifth from the 22nd; 5,200 tasks."""
    version = team_version(seat_price="40.00", unit_price="0.05", included_per_seat=1000)
    acme = CustomerFactory(external_id="acme", name="ACME", currency="USD")
    contract = contract_create(customer=acme, plan_version=version,
                               start_date=dt.date(2026, 10, 1), committed_seats=3)
    for i in range(4):
        add_seat(acme, f"user{i}@acme.test", at(2026, 9, 1))
    add_seat(acme, "fifth@acme.test", at(2026, 10, 22, 9))
    _ingest(ingest_api)
    return contract


def _schedule(task: str, name: str) -> None:
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.create(name=name, task=task, interval=every_second)


def _october_invoices(contract):
    return Invoice.objects.filter(contract=contract, period_start=OCTOBER[0])


def _deliver(event: dict):
    payload = json.dumps(event).encode()
    # Stripe sends no CSRF token: the endpoint must work with CSRF checks on.
    return Client(enforce_csrf_checks=True).post(
        "/stripe/webhook/", data=payload, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_webhook_payload(payload, WEBHOOK_SECRET),
    )


def test_beat_bills_the_worked_example_and_the_worker_syncs_it_to_stripe_and_marks_it_paid(
    tmp_path, settings, api, ingest_api,
):
    broker = redis_broker_or_skip(REDIS_URL)
    with contextlib.ExitStack() as stack:
        # Last in, first out: processes stop, then this test's Redis keys are deleted and
        # our session closed, so the flush after this test does not wait on it.
        stack.callback(connection.close)
        stack.callback(broker.forget)
        fake = stack.enter_context(FakeStripe())
        settings.USAGE_BACKFILL_DAYS = BACKFILL_DAYS
        settings.BILLING_GRACE_SECONDS = 0
        settings.STRIPE_API_KEY = fake.api_key
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET

        contract = _worked_example(ingest_api)
        # Planner statistics for the just-filled events table, as autovacuum would have in
        # a live database; without them every rollup and rating here takes seconds.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Event._meta.db_table}")
        _schedule("invoices.tasks.run_billing", "Billing run (e2e)")
        _schedule("usage.tasks.rollup_usage", "Roll up usage (e2e)")

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "billing_site.settings",
            "DJANGO_SECRET_KEY": "e2e-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": test_database_url(),
            **broker.env,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "BILLING_VAR_DIR": str(tmp_path / "var"),
            "BILLING_GRACE_SECONDS": "0",
            "USAGE_BACKFILL_DAYS": str(BACKFILL_DAYS),
            "STRIPE_API_KEY": fake.api_key,
            "STRIPE_API_BASE": fake.url,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_HTTP_TIMEOUT": "10",
        }
        worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
        # Four threads, so scheduled billing runs can overlap each other and the sync.
        worker = start_celery(
            ["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname=e2e-billing@%h"],
            env, worker_log,
        )
        stack.callback(stop, worker)  # stopped after beat: callbacks run last-in first-out
        beat = start_celery(
            ["beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
             "--loglevel=INFO", "--pidfile=", f"--schedule={tmp_path / 'beat-schedule'}"],
            env, beat_log,
        )
        stack.callback(stop, beat)
        stack.enter_context(_tasks_sent_to(broker))
        wait = Waiter([worker_log, beat_log])

        # 1. Beat's billing run makes the October draft: SPEC's 216.80.
        draft = wait.until(lambda: _october_invoices(contract).first(), "October draft")
        assert draft.status == Invoice.Status.DRAFT
        assert draft.total == D("216.80")
        assert (draft.period_start, draft.period_end) == OCTOBER
        assert draft.usage_snapshot == {"tasks": "5200"}
        seat, tasks = draft.lines.order_by("position")
        assert (seat.kind, seat.quantity, seat.unit_price, seat.amount) == (
            "seat", D("4.322581"), D("40.00"), D("172.90"))
        assert (tasks.kind, tasks.metric, tasks.value, tasks.included, tasks.billable) == (
            "usage", "tasks", 5200, 4322, 878)
        assert (tasks.unit_price, tasks.amount) == (D("0.05"), D("43.90"))
        # Later runs re-rate the draft and must neither duplicate nor change it.
        runs_seen = BillingRun.objects.count()
        wait.until(lambda: BillingRun.objects.count() >= runs_seen + 3, "three more runs")
        assert _october_invoices(contract).count() == 1
        assert _october_invoices(contract).get().total == D("216.80")

        # 2. Finalize through the API; its commit queues the sync on Redis for the worker.
        response = api.post(f"/api/v1/invoices/{draft.pk}/finalize")
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "finalized"
        wait.until(lambda: _october_invoices(contract).get().stripe_state == "synced",
                   "Stripe sync")
        wait.log_line(worker_log,
                      r"invoices\.tasks\.sync_invoice_to_stripe\[[^\]]+\] succeeded.*'synced'",
                      "the sync task in the worker's log")
        invoice = _october_invoices(contract).get()
        assert invoice.stripe_error == "" and invoice.number
        (remote,) = fake.objects("invoice")
        assert remote["id"] == invoice.stripe_invoice_id
        assert remote["status"] == "open"
        assert remote["metadata"]["invoice_id"] == str(invoice.pk)
        assert remote["total"] == 21680 and remote["currency"] == "usd"
        items = fake.objects("invoiceitem")
        assert sorted(item["amount"] for item in items) == [4390, 17290]
        assert {item["invoice"] for item in items} == {remote["id"]}
        assert sorted(line.stripe_invoice_item_id for line in invoice.lines.all()) == sorted(
            item["id"] for item in items)

        # 3. Paid in Stripe; the signed webhook is stored here and processed by the worker.
        stripe_client().v1.invoices.pay(remote["id"], {"paid_out_of_band": True})
        paid = fake.get(remote["id"])
        assert paid["status"] == "paid"
        event = make_event("invoice.paid", paid)
        response = _deliver(event)
        assert response.status_code == 200, response.content
        assert response.json() == {"received": True, "id": event["id"], "duplicate": False}
        wait.until(lambda: _october_invoices(contract).get().status == "paid", "invoice paid")
        wait.log_line(worker_log,
                      r"invoices\.tasks\.process_stripe_event\[[^\]]+\] succeeded.*'processed'",
                      "the webhook task in the worker's log")
        invoice = _october_invoices(contract).get()
        assert invoice.paid_at == dt.datetime.fromtimestamp(
            paid["status_transitions"]["paid_at"], tz=dt.UTC)
        stored = StripeEvent.objects.get()
        assert (stored.stripe_id, stored.status, stored.attempts) == (
            event["id"], StripeEvent.Status.PROCESSED, 1)
        # Stripe redelivers: answered as a duplicate, stored once.
        assert _deliver(event).json()["duplicate"] is True
        assert StripeEvent.objects.count() == 1

        # 4. Beat keeps billing: still one invoice for the period, one in Stripe.
        runs_seen = BillingRun.objects.count()
        wait.until(lambda: BillingRun.objects.count() >= runs_seen + 2, "two more runs")
        assert _october_invoices(contract).count() == 1
        assert _october_invoices(contract).get().status == "paid"
        assert len(fake.objects("invoice")) == 1
        assert len(fake.objects("invoiceitem")) == 2
        assert not BillingRun.objects.exclude(failures=[]).exists()
        assert fake.errors == []
