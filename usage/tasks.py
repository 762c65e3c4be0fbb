"""Celery tasks of the usage app: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from usage import rollups


@shared_task(name="usage.tasks.rollup_usage")
def rollup_usage() -> int:
    """Roll up what arrived since the last run (scheduled in billing_site/schedules.py)."""
    return rollups.rollup_usage(now=timezone.now())
