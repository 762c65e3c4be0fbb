"""End to end: a real Celery beat schedules ``usage.tasks.rollup_usage`` from the database,
a real worker runs it against this test's PostgreSQL database, over Redis."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.celery_processes import redis_broker_or_skip, start_celery, stop, test_database_url
from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.models import UsageRollup

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REDIS_URL = os.environ.get("E2E_CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
WAIT_SECONDS = 60










def _wait_for(check, logs: list[Path]):
    """Polls until ``check()`` is truthy; bounded so a broken worker fails, not hangs."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"nothing after {WAIT_SECONDS}s; process logs:\n{tails}")


def _value(customer, code, hour):
    row = UsageRollup.objects.filter(customer=customer, metric__code=code, hour=hour).first()
    return row.value if row is not None else None


@pytest.mark.django_db(transaction=True)
def test_beat_and_worker_roll_up_usage_end_to_end(tmp_path):
    broker = redis_broker_or_skip(REDIS_URL)
    acme = CustomerFactory(external_id="acme")
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="total_tokens")
    MetricFactory(code="tasks", event_type="task.completed", aggregation="count")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    received = now - dt.timedelta(minutes=1)
    for minute, tokens in ((1, 100), (2, 250)):
        EventFactory(customer=acme, event_type="ai.call", received_at=received,
                     timestamp=hour + dt.timedelta(minutes=minute),
                     properties={"total_tokens": tokens})
    EventFactory(customer=acme, event_type="task.completed", received_at=received,
                 timestamp=hour + dt.timedelta(minutes=5))
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.create(
        name="Roll up usage (e2e)", task="usage.tasks.rollup_usage", interval=every_second
    )

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "billing_site.settings",
        "DJANGO_SECRET_KEY": "e2e-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": test_database_url(),
        **broker.env,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "BILLING_VAR_DIR": str(tmp_path / "var"),
        # Runs roll up what was received a margin before them; a short one lets the late
        # event below reach its row within the wait, not ten minutes later.
        "USAGE_ROLLUP_MARGIN_SECONDS": "2",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = start_celery(
        ["worker", "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--hostname=e2e-rollup@%h"],
        env, worker_log,
    )
    beat = start_celery(
        ["beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--loglevel=INFO", "--pidfile=", f"--schedule={tmp_path / 'beat-schedule'}"],
        env, beat_log,
    )
    logs = [worker_log, beat_log]
    try:
        _wait_for(lambda: _value(acme, "tokens", hour) is not None, logs)
        assert _value(acme, "tokens", hour) == 350
        _wait_for(lambda: _value(acme, "tasks", hour) is not None, logs)
        assert _value(acme, "tasks", hour) == 1

        # A late event (old timestamp, arriving now): a later scheduled run updates its hour.
        EventFactory(customer=acme, event_type="ai.call", received_at=timezone.now(),
                     timestamp=hour + dt.timedelta(minutes=30), properties={"total_tokens": 7})
        _wait_for(lambda: _value(acme, "tokens", hour) == 357, logs)
        # The worker's queue lives under this test's prefix, nowhere else in the database.
        assert any(b"_kombu.binding.celery" in key for key in broker.keys())
    finally:
        stop(beat)
        stop(worker)
        broker.forget()
        connection.close()  # the flush after this test must not wait on our session
