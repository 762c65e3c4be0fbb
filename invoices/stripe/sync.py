"""Keeping Stripe in step with our invoices (SPEC section 4): state, retries, queueing.

A finalized invoice is pushed to Stripe (customer, draft invoice, one item per line,
finalize); a voided one is voided there. The Stripe calls are in
:mod:`invoices.stripe.steps`; this module decides when they run and records the outcome
on the invoice (``stripe_state``, ``stripe_attempts``, ``stripe_error``,
``stripe_next_attempt_at``). It never queues work itself: ``stripe_sync_start``,
``stripe_void_start`` and ``stripe_retry_claim`` claim an invoice and say so, and the
Celery edge (:mod:`invoices.stripe.tasks`) sends the task.

* Resumable and never double-billing: each write has an idempotency key from our row ids
  and each Stripe id is saved as soon as it is known. The services are deliberately *not*
  one transaction, or a failure would roll that progress back.
* Failures: network, 5xx, 409 and rate limits are transient (the Celery task retries
  them with backoff, and the scheduled retry after ``stripe_next_attempt_at``); a wrong
  key is retried by the schedule only; a refused request or a mismatch with Stripe is
  permanent (``stripe_next_attempt_at`` empty) and waits for ops.
* Off: with no ``STRIPE_API_KEY`` invoices get ``stripe_state="off"``, nothing is
  claimed (logged once) and the services raise :class:`StripeSyncOff`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from invoices.models import Invoice
from invoices.stripe.steps import StripeMismatch, push_invoice, stripe_client

logger = logging.getLogger(__name__)

Status = Invoice.Status
State = Invoice.StripeState

OFF_MESSAGE = "Stripe sync is off: STRIPE_API_KEY is not set."
# A sync "pending" this long is presumed lost (worker killed, message dropped) and is
# picked up by the scheduled retry; it is also the lease a running sync holds.
STUCK_AFTER = dt.timedelta(minutes=10)
RETRY_BASE = dt.timedelta(minutes=1)
RETRY_MAX = dt.timedelta(hours=1)
RETRY_BATCH = 200
ERROR_MAX_CHARS = 2000

_off_logged = False


class StripeSyncOff(ValidationError):
    """Stripe sync is switched off (no API key); nothing was sent."""

    def __init__(self) -> None:
        super().__init__({"stripe": [OFF_MESSAGE]})


class StripeSyncError(Exception):
    """Base of the sync's own errors; ``str()`` is a message fit for ops."""


class StripeSyncFailed(StripeSyncError):
    """The attempt failed and is recorded on the invoice. ``retry_at``: when the scheduled
    retry tries again; ``None``: permanent, needs a human."""

    def __init__(self, message: str, *, retry_at: dt.datetime | None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class StripeSyncTransient(StripeSyncFailed):
    """Network, 5xx, 409 or rate limit: worth retrying soon (the Celery task does)."""


class StripeSyncBusy(StripeSyncError):
    """Another worker is syncing this invoice right now; try again later."""


def sync_enabled() -> bool:
    return bool(settings.STRIPE_API_KEY)


def retry_delay(attempts: int) -> dt.timedelta:
    """1, 2, 4, … minutes after the n-th failure, at most an hour."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_MAX)


# --------------------------------------------------------------------------- off


def _log_off_once() -> None:
    global _off_logged
    if not _off_logged:
        _off_logged = True
        logger.warning("%s Invoices are kept locally with stripe_state 'off'.", OFF_MESSAGE)


def _mark_off(invoice_id: Any, base: QuerySet | None = None) -> None:
    _log_off_once()
    # A synced invoice stays "synced": switching the key off later changes nothing there.
    (Invoice.objects.all() if base is None else base).filter(pk=invoice_id).exclude(
        stripe_state__in=[State.OFF, State.SYNCED]
    ).update(stripe_state=State.OFF, stripe_next_attempt_at=None)


# --------------------------------------------------------------------------- start


def _start_job(invoice_id: Any, base: QuerySet, now: dt.datetime) -> bool:
    return bool(base.filter(pk=invoice_id).update(
        stripe_state=State.PENDING, stripe_attempts=0, stripe_error="",
        stripe_next_attempt_at=now + STUCK_AFTER, updated_at=now,
    ))


def stripe_sync_start(*, invoice_id: Any, now: dt.datetime) -> bool:
    """Claim a just-finalized invoice for its push (a fresh lease, attempts reset); True
    when the caller should now queue ``sync_invoice_to_stripe``. Sync off: marks it off."""
    if not sync_enabled():
        _mark_off(invoice_id)
        return False
    base = Invoice.objects.exclude(status=Status.DRAFT).exclude(stripe_state=State.SYNCED)
    return _start_job(invoice_id, base, now)


def stripe_paid_start(*, invoice_id: Any, now: dt.datetime) -> bool:
    """Claim an invoice just marked paid outside Stripe, so Stripe marks its copy paid out
    of band (or gets it finalized and paid, if it never got there); True when the caller
    should now queue ``sync_invoice_to_stripe``. Sync off: marks it off."""
    if not sync_enabled():
        _mark_off(invoice_id)
        return False
    return _start_job(invoice_id, Invoice.objects.filter(status=Status.PAID), now)


def stripe_void_start(*, invoice_id: Any, now: dt.datetime) -> bool:
    """Claim a just-voided invoice for its void in Stripe; True when the caller should now
    queue ``void_invoice_in_stripe``. False when it never reached Stripe (a voided draft;
    a sync still in flight sees the void and follows it) or sync is off."""
    if not sync_enabled():
        # A voided draft never had a Stripe side, so it keeps its state.
        _mark_off(invoice_id, Invoice.objects.filter(finalized_at__isnull=False))
        return False
    base = Invoice.objects.filter(status=Status.VOID).filter(
        ~Q(stripe_invoice_id="") | Q(stripe_state__in=[State.PENDING, State.FAILED])
    )
    return _start_job(invoice_id, base, now)


# --------------------------------------------------------------------------- services


def stripe_sync_invoice(*, invoice: Invoice, now: dt.datetime) -> Invoice:
    """Make Stripe match the invoice: finalized there if finalized or paid here, voided
    (or its draft deleted) there if void here. Resumes a partial earlier attempt; a
    synced finalized invoice is left alone.

    Raises :class:`StripeSyncOff` when sync is off, :class:`StripeSyncFailed` (already
    recorded on the invoice) when Stripe refused or could not be reached, and
    :class:`StripeSyncBusy` when another worker holds the invoice.
    """
    invoice = _load(invoice)
    if invoice.status == Status.DRAFT:
        raise ValidationError({"status": ["Only finalized invoices are synced to Stripe."]})
    # A paid invoice is pushed even when synced: paid here may mean paid out of band.
    if invoice.status == Status.FINALIZED and invoice.stripe_state == State.SYNCED:
        return invoice
    return _run(invoice, now, push_invoice)


def stripe_void_invoice(*, invoice: Invoice, now: dt.datetime) -> Invoice:
    """Void the Stripe copy of an invoice voided here (delete it if still a draft there)."""
    invoice = _load(invoice)
    if invoice.status != Status.VOID:
        raise ValidationError({"status": ["Only void invoices are voided in Stripe."]})
    return _run(invoice, now, push_invoice)


def _load(invoice: Invoice) -> Invoice:
    if not sync_enabled():
        _mark_off(invoice.pk)
        raise StripeSyncOff()
    return Invoice.objects.select_related("customer").get(pk=invoice.pk)


def _run(invoice: Invoice, now: dt.datetime, step: Callable[..., None]) -> Invoice:
    with _invoice_lock(invoice.pk) as acquired:
        if not acquired:
            raise StripeSyncBusy(f"Invoice {invoice} is being synced by another worker.")
        _save(invoice, now, stripe_state=State.PENDING, stripe_next_attempt_at=now + STUCK_AFTER)
        try:
            step(stripe_client(), invoice, now=now)
        except StripeMismatch as exc:
            raise _record_failure(invoice, now, str(exc), transient=False, permanent=True) from exc
        except stripe.StripeError as exc:
            raise _record_failure(invoice, now, _describe(exc), transient=_is_transient(exc),
                                  permanent=_is_permanent(exc)) from exc
        except Exception as exc:
            # Our own bug or a database hiccup: shown to ops and retried on the schedule,
            # not left looking "pending" until the lease runs out.
            logger.exception("Stripe sync of invoice %s crashed", invoice.pk)
            raise _record_failure(invoice, now, f"{type(exc).__name__}: {exc}",
                                  transient=False, permanent=False) from exc
        # A void invoice that never reached Stripe has nothing there to be in sync with.
        done = State.SYNCED if invoice.stripe_invoice_id else State.NOT_SYNCED
        _save(invoice, now, stripe_state=done, stripe_error="", stripe_next_attempt_at=None)
    return Invoice.objects.select_related("customer").get(pk=invoice.pk)


def _is_transient(exc: stripe.StripeError) -> bool:
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError
                  | stripe.IdempotencyError):
        return True
    status = exc.http_status or 0
    return status == 409 or status >= 500


def _is_permanent(exc: stripe.StripeError) -> bool:
    # A wrong or revoked key is fixed by ops, after which the scheduled retry heals every
    # invoice; a refused request (4xx) would be refused again, so it waits for a human.
    auth = isinstance(exc, stripe.AuthenticationError | stripe.PermissionError)
    return not (auth or _is_transient(exc))


def _describe(exc: stripe.StripeError) -> str:
    message = exc.user_message or str(exc) or type(exc).__name__
    request_id = f" (request {exc.request_id})" if getattr(exc, "request_id", None) else ""
    return f"{type(exc).__name__}: {message}{request_id}"


def _record_failure(invoice: Invoice, now: dt.datetime, message: str, *, transient: bool,
                    permanent: bool) -> StripeSyncFailed:
    with transaction.atomic():
        attempts = (
            Invoice.objects.select_for_update().filter(pk=invoice.pk)
            .values_list("stripe_attempts", flat=True).get()
        ) + 1
        retry_at = None if permanent else now + retry_delay(attempts)
        _save(invoice, now, stripe_state=State.FAILED, stripe_error=message[:ERROR_MAX_CHARS],
              stripe_attempts=attempts, stripe_next_attempt_at=retry_at)
    logger.warning("Stripe sync of invoice %s failed (attempt %s, next try %s): %s",
                   invoice.pk, attempts, retry_at or "by hand", message)
    kind = StripeSyncTransient if transient else StripeSyncFailed
    return kind(message, retry_at=retry_at)


def _save(invoice: Invoice, now: dt.datetime, **fields: Any) -> None:
    Invoice.objects.filter(pk=invoice.pk).update(**fields, updated_at=now)
    for name, value in fields.items():
        setattr(invoice, name, value)


def advisory_key(invoice_id: Any) -> int:
    """The invoice's PostgreSQL advisory lock key (a signed bigint folded from its uuid;
    a collision only makes two invoices wait for each other)."""
    value = uuid.UUID(str(invoice_id)).int
    key = ((value >> 64) ^ value) & 0xFFFFFFFFFFFFFFFF
    return key - (1 << 64) if key >= (1 << 63) else key


@contextlib.contextmanager
def _invoice_lock(invoice_id: Any) -> Iterator[bool]:
    """A PostgreSQL session advisory lock per invoice, so two workers never push the same
    invoice at once (the idempotency keys keep that safe, but not cheap). It outlives the
    short transactions in between and dies with the connection if the worker does.
    SQLite, the single-worker demo database, has no such lock and gets none."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = advisory_key(invoice_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


# --------------------------------------------------------------------------- scheduled retry


def stripe_sync_due(*, now: dt.datetime) -> list[str]:
    """Invoices whose sync failed and is due again, or is stuck: pending past its lease,
    or finalized a while ago and never queued (the process died before enqueueing)."""
    stuck_before = now - STUCK_AFTER
    due = (
        Q(stripe_state=State.FAILED, stripe_next_attempt_at__lte=now)
        | Q(stripe_state=State.PENDING, stripe_next_attempt_at__lte=now)
        | Q(stripe_state=State.PENDING, stripe_next_attempt_at__isnull=True,
            updated_at__lte=stuck_before)
        | Q(stripe_state=State.NOT_SYNCED, status__in=[Status.FINALIZED, Status.PAID],
            finalized_at__lte=stuck_before)
    )
    ids = (
        Invoice.objects.exclude(status=Status.DRAFT).filter(due)
        .order_by("stripe_next_attempt_at", "finalized_at").values_list("pk", flat=True)
    )
    return [str(pk) for pk in ids[:RETRY_BATCH]]


def stripe_retry_claim(*, now: dt.datetime) -> list[str]:
    """Claim each due invoice once, with a fresh lease; returns the ids the caller should
    queue ``sync_invoice_to_stripe`` for. Sync off: none."""
    if not sync_enabled():
        _log_off_once()
        return []
    queued = []
    for invoice_id in stripe_sync_due(now=now):
        # Claimed with a fresh lease, so an overlapping run of this job skips it.
        claimed = Invoice.objects.filter(pk=invoice_id).filter(
            Q(stripe_next_attempt_at__isnull=True) | Q(stripe_next_attempt_at__lte=now)
        ).update(stripe_state=State.PENDING, stripe_next_attempt_at=now + STUCK_AFTER,
                 updated_at=now)
        if claimed:
            queued.append(invoice_id)
    return queued
