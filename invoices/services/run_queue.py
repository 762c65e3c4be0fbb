"""Asking for a billing run: which ``as_of`` is acceptable, and the queued run's lifecycle.

Every way of starting a run (the API, ``manage.py billing_run``, the hourly schedule)
checks ``as_of`` here, once: a run bills periods that have ended, so an ``as_of`` in the
future (beyond a small clock-skew tolerance) would bill periods that have not happened,
and one before the earliest contract can bill nothing and is a typo. The API never rates
inside the request: ``billing_run_request`` records a queued run, a worker starts it
(``billing_run_begin``) and fans its chunks out (``invoices.tasks``).

A run is ``queued`` → ``running`` → ``done`` / ``failed``; ``failed`` means some customers
failed (``failures``) or, with ``error`` set, that the run itself could not go on.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min

from common.bounds import format_moment, moment_in_range_error
from invoices.models import BillingRun
from invoices.services.billing_run import billing_due, chunk_size, chunks
from plans.models import Contract
from plans.periods import at_midnight

DEFAULT_AS_OF_SKEW_SECONDS = 300


def as_of_skew() -> dt.timedelta:
    return dt.timedelta(seconds=max(0, int(getattr(settings, "BILLING_AS_OF_SKEW_SECONDS",
                                                   DEFAULT_AS_OF_SKEW_SECONDS))))


def billing_as_of_check(*, as_of: dt.datetime, now: dt.datetime) -> dt.datetime:
    """``as_of`` in UTC if a run may bill as of it; else ``ValidationError({"as_of": ...})``."""
    if as_of.tzinfo is None:
        raise ValidationError({"as_of": ["Give a timezone, e.g. 2026-11-01T01:00:00Z."]})
    if message := moment_in_range_error(as_of):
        raise ValidationError({"as_of": [message]})
    as_of = as_of.astimezone(dt.UTC)
    skew = as_of_skew()
    if as_of > now + skew:
        raise ValidationError({"as_of": [
            f"as_of {format_moment(as_of)} is in the future (the server's time is "
            f"{format_moment(now)}). A run bills periods that have ended, so as_of may be at "
            f"most {int(skew.total_seconds())} seconds ahead of the clock."
        ]})
    earliest = Contract.objects.aggregate(first=Min("start_date"))["first"]
    if earliest is not None and as_of < at_midnight(earliest):
        raise ValidationError({"as_of": [
            f"as_of {format_moment(as_of)} is before the earliest contract start "
            f"({earliest.isoformat()}): nothing could be billed."
        ]})
    return as_of


def billing_run_request(*, as_of: dt.datetime, now: dt.datetime) -> BillingRun:
    """Record a queued run as of a checked ``as_of``; a worker starts it."""
    as_of = billing_as_of_check(as_of=as_of, now=now)
    return BillingRun.objects.create(as_of=as_of, requested_at=now,
                                     status=BillingRun.Status.QUEUED)


@transaction.atomic
def billing_run_begin(*, run_id: uuid.UUID | str, now: dt.datetime,
                      size: int | None = None) -> tuple[BillingRun, list[list[int]]]:
    """Start a queued run: count its work and split it into chunks of customers.

    A run that is no longer queued (the task was delivered twice) gets no chunks, so its
    work is never queued twice.
    """
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    if run.status != BillingRun.Status.QUEUED:
        return run, []
    due = billing_due(as_of=run.as_of)
    parts = chunks(due.customer_ids, size or chunk_size())
    run.started_at = now
    run.periods_due = due.periods_due
    run.customers_total = len(due.customer_ids)
    run.chunks_total = len(parts)
    run.status = BillingRun.Status.RUNNING if parts else BillingRun.Status.DONE
    run.finished_at = None if parts else now
    run.save()
    return run, parts


@transaction.atomic
def billing_run_fail(*, run_id: uuid.UUID | str, error: str, now: dt.datetime) -> BillingRun:
    """Close a run that cannot go on (it could not be queued or started), saying why."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    run.status = BillingRun.Status.FAILED
    run.error = error[:2000]
    run.finished_at = now
    run.save()
    return run
