"""The "Roll up usage" job rolls up, then evaluates alerts; sync_schedules points an
existing job at it and keeps its interval."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from billing_site.celery import app
from invoices.alerts.models import AlertCrossing
from invoices.alerts.tasks import rollup_and_evaluate
from tests.invoices.alerts.conftest import NOW
from tests.invoices.billing_fixtures import add_events, at
from usage.models import RollupWatermark

pytestmark = pytest.mark.django_db


def test_the_rollup_job_runs_the_alert_task_and_sync_updates_an_old_job():
    every_ten = IntervalSchedule.objects.create(every=600, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="Roll up usage", task="usage.tasks.rollup_usage",
                                interval=every_ten)
    call_command("sync_schedules")
    job = PeriodicTask.objects.get(name="Roll up usage")
    assert job.task == "invoices.alerts.tasks.rollup_and_evaluate"
    assert job.interval.every == 600  # ops' interval kept
    assert PeriodicTask.objects.get(name="Deliver webhooks").task == (
        "accounts.outbound.tasks.deliver_due_webhooks")
    assert {"invoices.alerts.tasks.rollup_and_evaluate",
            "accounts.outbound.tasks.deliver_due_webhooks"} <= set(app.tasks)


def test_rollup_and_evaluate_rolls_up_then_alerts(customer, django_capture_on_commit_callbacks):
    add_events(customer, count=3500, when=at(2026, 10, 10))
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert rollup_and_evaluate.delay().get() == 1
    assert RollupWatermark.objects.exists()
    assert AlertCrossing.objects.get().key == "usage:tasks:80"
    assert len(mail.outbox) == 1
