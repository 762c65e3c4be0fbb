"""Scheduled and fanned-out invoice jobs. Thin: they call services.

``run_billing`` starts a billing run and queues one ``bill_customers`` task per chunk of
customers (``BILLING_RUN_CHUNK_SIZE``); the last chunk closes the run. Hourly, the
schedule calls it without arguments (as of now); the API and ``manage.py billing_run
--queue`` record a queued run first and pass its id.
The Stripe tasks (``sync_invoice_to_stripe``, ``retry_stripe_sync``,
``replay_failed_webhooks``, ...) live in ``invoices.stripe.tasks``; importing it here is
what registers them with the worker (Celery discovers ``<app>.tasks`` modules only).
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.core.exceptions import ValidationError
from django.utils import timezone

from invoices.ops import tasks as ops_tasks  # noqa: F401  (registers refresh_margin_book)
from invoices.services import auto_finalize_drafts as auto_finalize_drafts_service
from invoices.services.billing_run import billing_run_chunk
from invoices.services.run_queue import billing_run_begin, billing_run_fail, billing_run_request
from invoices.stripe import tasks as stripe_tasks

logger = logging.getLogger(__name__)


@shared_task(name="invoices.tasks.run_billing")
def run_billing(as_of: str | None = None, run_id: str | None = None) -> str | None:
    """Start the queued run ``run_id``, or a new one as of ``as_of`` (ISO time; default
    now); returns the run id, or None when ``as_of`` is refused."""
    now = timezone.now()
    if run_id is None:
        try:
            run_id = str(billing_run_request(
                as_of=dt.datetime.fromisoformat(as_of) if as_of else now, now=now).pk)
        except (ValidationError, ValueError) as error:
            logger.warning("billing run as of %r refused: %s", as_of, error)
            return None
    try:
        run, parts = billing_run_begin(run_id=run_id, now=now)
        for part in parts:
            bill_customers.delay(str(run.pk), part)
    except Exception as error:
        # A run left "queued" or "running" with nothing on the way would look alive forever.
        billing_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}",
                         now=timezone.now())
        raise
    return str(run.pk)


@shared_task(name="invoices.tasks.bill_customers", acks_late=True)
def bill_customers(run_id: str, customer_ids: list[int]) -> None:
    billing_run_chunk(run_id=run_id, customer_ids=customer_ids, now=timezone.now())


@shared_task(name="invoices.tasks.auto_finalize_drafts")
def auto_finalize_drafts() -> int:
    finalized = auto_finalize_drafts_service(now=timezone.now())
    for invoice in finalized:
        stripe_tasks.queue_invoice_sync(invoice)
    return len(finalized)
