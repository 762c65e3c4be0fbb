"""Celery tasks for usage alerts. Thin: they call services.

The *Roll up usage* job (billing_site/schedules.py) runs ``rollup_and_evaluate``: the
rollup first (``usage.rollups``; usage never imports invoices, so the chaining is here),
then every open period is evaluated against its thresholds, so a crossing is noticed
within one job interval (five minutes) of the events that crossed it.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from invoices.alerts.services import alerts_evaluate
from usage import rollups


@shared_task(name="invoices.alerts.tasks.rollup_and_evaluate")
def rollup_and_evaluate() -> int:
    """Roll up usage, then evaluate alerts; returns the number of new crossings."""
    rollups.rollup_usage(now=timezone.now())
    return len(alerts_evaluate(now=timezone.now()))


@shared_task(name="invoices.alerts.tasks.evaluate_alerts")
def evaluate_alerts() -> int:
    return len(alerts_evaluate(now=timezone.now()))
