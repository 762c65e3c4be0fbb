"""Celery tasks of the Stripe sync and webhooks, and the one place that queues them.

Thin: each task calls one service with ``timezone.now()``. The services never queue
anything; the edges that change an invoice or receive an event call ``queue_*`` here
afterwards (the invoice API and admin after finalize or void, the auto-finalize task,
the webhook view), which asks the service whether there is work and sends the task once
the caller's transaction has committed.

Names are explicit (``invoices.tasks.*``) because the schedules in
``billing_site/schedules.py`` and queued messages refer to them by name; this module is
imported by ``invoices/tasks.py`` so the worker registers them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from invoices.models import Invoice, StripeEvent
from invoices.stripe.sync import (
    StripeSyncBusy,
    StripeSyncFailed,
    StripeSyncOff,
    StripeSyncTransient,
    stripe_paid_start,
    stripe_retry_claim,
    stripe_sync_invoice,
    stripe_sync_start,
    stripe_void_invoice,
    stripe_void_start,
)
from invoices.stripe.webhooks import stripe_event_process, stripe_events_replay

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
    invoice_ids = stripe_retry_claim(now=timezone.now())
    for invoice_id in invoice_ids:
        _send(sync_invoice_to_stripe, invoice_id)
    return len(invoice_ids)


@shared_task(name="invoices.tasks.process_stripe_event")
def process_stripe_event(event_id: int) -> str:
    event = StripeEvent.objects.filter(pk=event_id).first()
    if event is None:
        return f"event {event_id} does not exist"
    return stripe_event_process(event=event, now=timezone.now()).status


@shared_task(name="invoices.tasks.replay_failed_webhooks")
def replay_failed_webhooks() -> int:
    return len(stripe_events_replay(now=timezone.now()))


# --------------------------------------------------------------------------- queueing


def _send(task: Any, *args: Any) -> None:
    # After the caller's commit: a broker outage must not turn a committed finalize (or a
    # stored webhook event answered 200) into an error. The invoice stays "pending" and
    # the scheduled retry takes it over once its lease runs out; a stored event is picked
    # up by the scheduled replay.
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not queue %s%r; the scheduled job will pick it up",
                         task.name, args)


def _after_commit(start: Callable[..., bool], task: Any, invoice: Invoice) -> None:
    invoice_id = str(invoice.pk)

    def run() -> None:
        if start(invoice_id=invoice_id, now=timezone.now()):
            _send(task, invoice_id)

    # The sync must never see (or send) an invoice whose change rolled back; outside a
    # transaction on_commit runs at once.
    transaction.on_commit(run)


def queue_invoice_sync(invoice: Invoice) -> None:
    """Push a just-finalized invoice to Stripe (sync off: it is marked off)."""
    _after_commit(stripe_sync_start, sync_invoice_to_stripe, invoice)


def queue_invoice_paid(invoice: Invoice) -> None:
    """Have Stripe mark its copy paid out of band (an invoice paid outside Stripe)."""
    _after_commit(stripe_paid_start, sync_invoice_to_stripe, invoice)


def queue_invoice_void(invoice: Invoice) -> None:
    """Void the Stripe copy of a just-voided invoice, if it has one."""
    _after_commit(stripe_void_start, void_invoice_in_stripe, invoice)


def queue_stripe_event(event: StripeEvent) -> None:
    """Process a just-stored webhook event on the worker."""
    event_id = event.pk
    transaction.on_commit(lambda: _send(process_stripe_event, event_id))
