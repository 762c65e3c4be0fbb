"""Celery tasks for outbound webhooks. Thin: they call ``accounts.outbound.services``.

``deliver_webhook`` sends one attempt and, when it fails, queues itself for the time of
the next one. The scheduled ``deliver_due_webhooks`` (billing_site/schedules.py) sends
every delivery that is due whatever happened to its message (a broker outage, a worker
killed mid-send), so a lost task delays a delivery and never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.outbound.services import deliveries_due, delivery_send

logger = logging.getLogger(__name__)


@shared_task(name="accounts.outbound.tasks.deliver_webhook", acks_late=True)
def deliver_webhook(delivery_id: int) -> bool:
    """True when this attempt was made (the delivery was due and claimed here)."""
    outcome = delivery_send(delivery_id=delivery_id, now=timezone.now())
    if outcome.retry_in is not None:
        _send(delivery_id, countdown=outcome.retry_in.total_seconds())
    return outcome.sent


@shared_task(name="accounts.outbound.tasks.deliver_due_webhooks")
def deliver_due_webhooks() -> int:
    """Send every due delivery, one attempt each, here; returns how many were sent."""
    sent = 0
    for delivery_id in deliveries_due(now=timezone.now()):
        sent += delivery_send(delivery_id=delivery_id, now=timezone.now()).sent
    return sent


def _send(delivery_id: int, countdown: float | None = None) -> None:
    try:
        deliver_webhook.apply_async((delivery_id,), countdown=countdown)
    except Exception:
        # A broker outage must not fail the caller's committed work; the sweep sends it.
        logger.exception("could not queue delivery %s; the scheduled sweep will send it",
                         delivery_id)


def queue_deliveries(delivery_ids: Iterable[int]) -> None:
    """Queue a delivery task per id once the current transaction commits."""
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: [_send(pk) for pk in ids])
