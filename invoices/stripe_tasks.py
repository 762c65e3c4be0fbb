"""Celery tasks of the Stripe sync and webhooks. Thin: each calls one service.

Names are explicit (``invoices.tasks.*``) because the schedules in
``billing_site/schedules.py`` and queued messages refer to them by name; this module is
imported by ``invoices/tasks.py`` so the worker registers them.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from invoices.models import Invoice, StripeEvent
from invoices.stripe_sync import (
    StripeSyncBusy,
    StripeSyncFailed,
    StripeSyncOff,
    StripeSyncTransient,
    stripe_retry_due,
    stripe_sync_invoice,
    stripe_void_invoice,
)
from invoices.webhooks import stripe_event_process, stripe_events_replay

logger = logging.getLogger(__name__)

# Celery retries transient failures soon (1 s, 2 s, 4 s … capped at 10 min, jittered);
# after that the scheduled retry_stripe_sync carries on from stripe_next_attempt_at.
RETRY_OPTIONS = {
    "autoretry_for": (StripeSyncTransient, StripeSyncBusy),
    "retry_backoff": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
}


def _run(service, invoice_id: str) -> str:
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:
        return f"invoice {invoice_id} does not exist"
    try:
        invoice = service(invoice=invoice, now=timezone.now())
    except StripeSyncOff as exc:
        return exc.messages[0]
    except StripeSyncTransient:
        raise
    except StripeSyncFailed as exc:
        # Recorded on the invoice and shown to ops; retrying now would fail the same way.
        return f"failed: {exc}"
    return invoice.stripe_state


@shared_task(name="invoices.tasks.sync_invoice_to_stripe", **RETRY_OPTIONS)
def sync_invoice_to_stripe(invoice_id: str) -> str:
    return _run(stripe_sync_invoice, invoice_id)


@shared_task(name="invoices.tasks.void_invoice_in_stripe", **RETRY_OPTIONS)
def void_invoice_in_stripe(invoice_id: str) -> str:
    return _run(stripe_void_invoice, invoice_id)


@shared_task(name="invoices.tasks.retry_stripe_sync")
def retry_stripe_sync() -> int:
    return len(stripe_retry_due(now=timezone.now()))


@shared_task(name="invoices.tasks.process_stripe_event")
def process_stripe_event(event_id: int) -> str:
    event = StripeEvent.objects.filter(pk=event_id).first()
    if event is None:
        return f"event {event_id} does not exist"
    return stripe_event_process(event=event, now=timezone.now()).status


@shared_task(name="invoices.tasks.replay_failed_webhooks")
def replay_failed_webhooks() -> int:
    return len(stripe_events_replay(now=timezone.now()))
