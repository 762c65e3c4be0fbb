"""Scheduled and fanned-out invoice jobs. Thin: they call services.

``run_billing`` (hourly) records a run and queues one ``bill_customers`` task per chunk
of customers (``BILLING_RUN_CHUNK_SIZE``, default 500); the last chunk closes the run.
The Stripe tasks (``retry_stripe_sync``, ``replay_failed_webhooks``) live in
``invoices.stripe_tasks`` and are registered from here when that module is installed.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util

from celery import shared_task
from django.utils import timezone

from invoices.services import auto_finalize_drafts as auto_finalize_drafts_service
from invoices.services.billing_run import billing_run_chunk, billing_run_start


@shared_task(name="invoices.tasks.run_billing")
def run_billing(as_of: str | None = None) -> str:
    """Start a billing run as of ``as_of`` (ISO time; default now); returns the run id."""
    moment = dt.datetime.fromisoformat(as_of) if as_of else timezone.now()
    run, parts = billing_run_start(as_of=moment)
    for part in parts:
        bill_customers.delay(str(run.pk), part)
    return str(run.pk)


@shared_task(name="invoices.tasks.bill_customers", acks_late=True)
def bill_customers(run_id: str, customer_ids: list[int]) -> None:
    billing_run_chunk(run_id=run_id, customer_ids=customer_ids)


@shared_task(name="invoices.tasks.auto_finalize_drafts")
def auto_finalize_drafts() -> int:
    return len(auto_finalize_drafts_service(now=timezone.now()))


if importlib.util.find_spec("invoices.stripe_tasks") is not None:
    # Registers invoices.tasks.retry_stripe_sync and invoices.tasks.replay_failed_webhooks.
    importlib.import_module("invoices.stripe_tasks")
