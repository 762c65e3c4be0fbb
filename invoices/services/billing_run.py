"""Billing runs (SPEC 4): rate every contract period that ended at least the grace time
ago and has no invoice yet, as a draft; rate the open drafts again.

A run is split into chunks of customers. ``billing_run`` rates them inline, one after
the other; ``invoices.tasks.run_billing`` queues one task per chunk. Each chunk goes one
way, load → rate → save:

1. ``invoices.selectors.billing_load.load_run``: the chunk's contracts, the plan of what
   is due (``invoices.rating.planning``), price books, seats, earlier invoices and usage,
   as frozen data, in a handful of queries;
2. ``invoices.rating.drafts.rate_work``: the pure engine, late usage included;
3. ``invoices.services.invoice_writer``: inserts and rewrites, then the run's record.

A customer whose rating or saving fails is recorded in ``BillingRun.failures``; the other
customers are billed. So is a customer with a contract that has more periods due than
``BILLING_MAX_PERIODS_PER_CONTRACT_RUN``: none of its work is rated. Which ``as_of`` a
run may have is ``run_queue``'s business.

Drafts are re-rated on every run (unless on hold) and saved only when something changed
(usage, seats, contract overrides, late usage), so a draft always shows what its period
costs now, and late events for a period still in draft never become late-usage lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import uuid
from collections.abc import Iterator, MutableMapping, Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from invoices.models import BillingRun, Invoice
from invoices.rating.books import PriceBook
from invoices.rating.drafts import rate_work
from invoices.rating.planning import billing_cutoff
from invoices.selectors.billing_load import DueWork, due_work, load_redraft, load_run
from invoices.selectors.usage import WindowScans
from invoices.services.invoice_writer import (
    ChunkOutcome,
    billing_run_record_chunk,
    error_text,
    save_rated,
    save_ratings,
)
from invoices.services.lifecycle import InvoiceStateError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 5000
DEFAULT_MAX_PERIODS_PER_CONTRACT_RUN = 36


def chunk_size() -> int:
    return max(1, int(getattr(settings, "BILLING_RUN_CHUNK_SIZE", DEFAULT_CHUNK_SIZE)))


def max_periods_per_contract() -> int:
    return max(1, int(getattr(settings, "BILLING_MAX_PERIODS_PER_CONTRACT_RUN",
                              DEFAULT_MAX_PERIODS_PER_CONTRACT_RUN)))


def cutoff_for(as_of: dt.datetime) -> dt.datetime:
    return billing_cutoff(as_of, grace=dt.timedelta(seconds=settings.BILLING_GRACE_SECONDS))


def billing_due(*, as_of: dt.datetime) -> DueWork:
    """Customers with a period due at ``as_of`` or a draft to rate again, and how many
    periods are due."""
    return due_work(cutoff=cutoff_for(as_of))


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a chunk allocates hundreds of thousands of
    objects and keeps them all until it is saved, so CPython's collector would walk them
    again and again for next to nothing (a third of a 10,000-customer run's Python time).
    Reference counting still frees everything as usual; cycles wait for the next pass.
    Nested or concurrent uses are fine: whoever turned collection off turns it back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def bill_customers(
    *, customer_ids: Sequence[int], as_of: dt.datetime, now: dt.datetime,
    books: MutableMapping[int, PriceBook] | None = None, scans: WindowScans | None = None,
) -> ChunkOutcome:
    """Load, rate and save the work of some customers; failures are per customer."""
    try:
        with cyclic_gc_paused():
            loaded = load_run(customer_ids=customer_ids, cutoff=cutoff_for(as_of),
                              max_periods=max_periods_per_contract(), books=books, scans=scans)
            ratings = rate_work(loaded.work)
    except Exception as error:
        if len(customer_ids) == 1:
            logger.exception("billing customer %s failed", customer_ids[0])
            return ChunkOutcome(errors={customer_ids[0]: error_text(error)})
        # A group-level failure (a query, a bad row): find the customer one by one.
        logger.exception("billing a group of %d customers failed; one by one", len(customer_ids))
        outcome = ChunkOutcome()
        for customer_id in customer_ids:
            outcome.add(bill_customers(customer_ids=[customer_id], as_of=as_of, now=now,
                                       books=books, scans=scans))
        return outcome
    with cyclic_gc_paused():
        return save_ratings(ratings, drafts=loaded.drafts, refused=loaded.refused, now=now)


def billing_run_start(*, as_of: dt.datetime, now: dt.datetime,
                      size: int | None = None) -> tuple[BillingRun, list[list[int]]]:
    """Record a run and split its work into chunks of customers."""
    due = billing_due(as_of=as_of)
    parts = chunks(due.customer_ids, size or chunk_size())
    run = BillingRun.objects.create(
        as_of=as_of, requested_at=now, started_at=now, periods_due=due.periods_due,
        customers_total=len(due.customer_ids), chunks_total=len(parts),
        status=BillingRun.Status.RUNNING if parts else BillingRun.Status.DONE,
        finished_at=None if parts else now,
    )
    return run, parts


def billing_run_chunk(*, run_id: uuid.UUID | str, customer_ids: Sequence[int], now: dt.datetime,
                      books: MutableMapping[int, PriceBook] | None = None,
                      scans: WindowScans | None = None) -> BillingRun:
    """Bill one chunk of a run's customers and add its outcome to the run."""
    as_of = BillingRun.objects.values_list("as_of", flat=True).get(pk=run_id)
    outcome = bill_customers(customer_ids=customer_ids, as_of=as_of, now=now, books=books,
                             scans=scans)
    return billing_run_record_chunk(run_id=run_id, outcome=outcome, now=now)


def billing_run(*, as_of: dt.datetime, now: dt.datetime, size: int | None = None) -> BillingRun:
    """Run billing inline, chunk after chunk, and return the finished run."""
    run, parts = billing_run_start(as_of=as_of, now=now, size=size)
    books: dict[int, PriceBook] = {}  # versions are shared by most customers: load each once
    # Customers share periods: a window's events are read once for the whole run.
    scans = WindowScans(lo=parts[0][0], hi=parts[-1][-1]) if parts else None
    for part in parts:
        run = billing_run_chunk(run_id=run.pk, customer_ids=part, now=now, books=books,
                                scans=scans)
    return run


@transaction.atomic
def invoice_rerate(*, invoice: Invoice, now: dt.datetime) -> Invoice:
    """Rate a draft again (also when held), replacing its lines, and every later draft of
    the customer that is not held, whose late usage depends on it."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.DRAFT:
        raise InvoiceStateError(locked, "re-rated", "draft")
    later = Invoice.objects.filter(
        customer_id=locked.customer_id, status=Invoice.Status.DRAFT,
        period_start__gt=locked.period_start, on_hold=False,
    ).values_list("pk", flat=True)
    loaded = load_redraft(draft_ids=[locked.pk, *later])
    ratings = rate_work(loaded.work)
    for rating in ratings:
        if rating.error is not None:
            raise ValidationError({"invoice": [f"Rating failed: {rating.error}"]})
    save_rated([i for r in ratings for i in r.invoices], drafts=loaded.drafts, now=now)
    return Invoice.objects.get(pk=locked.pk)
