"""Billing runs (SPEC 4): rate every contract period that ended at least the grace time
ago and has no invoice yet, as a draft; rate the open drafts again.

A run is split into chunks of customers. ``billing_run`` rates them inline, one after
the other; ``invoices.tasks.run_billing`` queues one task per chunk. A chunk loads its
customers in a handful of queries (usage in one batched call) and saves with bulk
inserts. Exactly one invoice per contract period, also when two runs race: invoices are
inserted with ON CONFLICT DO NOTHING on the (contract, period_start) constraint and only
the rows this run inserted get lines. A customer whose rating or saving fails is
recorded in ``BillingRun.failures``; the other customers are billed. So is a customer
with a contract that has more periods due than ``BILLING_MAX_PERIODS_PER_CONTRACT_RUN``:
none of its work is rated. Which ``as_of`` a run may have is ``run_queue``'s business.

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from invoices.models import BillingRun, Invoice, InvoiceLine
from invoices.services.bulk_write import insert_invoices, insert_lines
from invoices.services.drafting import (
    BILLABLE_CONTRACTS,
    BuiltInvoice,
    CustomerResult,
    PriceBooks,
    Rater,
    billing_cutoff,
    customers_of,
    invoiced_periods,
)
from invoices.services.lifecycle import InvoiceStateError
from invoices.services.line_rows import line_row
from invoices.services.terms import period_moments, term_periods
from invoices.services.usage import WindowScans
from plans.models import Contract

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 5000
DEFAULT_MAX_PERIODS_PER_CONTRACT_RUN = 36
REDRAFT_FIELDS = [
    "plan_version", "total", "seat_equivalents", "billed_seats", "usage_snapshot",
    "late_usage_snapshots", "overrides", "rated_at", "updated_at",
]


def chunk_size() -> int:
    return max(1, int(getattr(settings, "BILLING_RUN_CHUNK_SIZE", DEFAULT_CHUNK_SIZE)))


def max_periods_per_contract() -> int:
    return max(1, int(getattr(settings, "BILLING_MAX_PERIODS_PER_CONTRACT_RUN",
                              DEFAULT_MAX_PERIODS_PER_CONTRACT_RUN)))


# --- What is due -------------------------------------------------------------------------


@dataclass(frozen=True)
class DueWork:
    customer_ids: list[int]
    periods_due: int


def billing_due(*, as_of: dt.datetime) -> DueWork:
    """Customers with a period due at ``as_of`` or a draft to rate again, and how many
    periods are due. Cheap: contract columns and invoice keys only, no usage."""
    cutoff = billing_cutoff(as_of)
    until = cutoff.astimezone(dt.UTC).date()
    contracts = list(
        Contract.objects.filter(status__in=BILLABLE_CONTRACTS, start_date__lt=until)
        .order_by().values_list("pk", "customer_id", "anchor_date", "plan_version__billing_interval",
                                "start_date", "end_date")
    )
    invoiced = invoiced_periods(c[0] for c in contracts)
    customers: set[int] = set()
    periods = 0
    for pk, customer_id, anchor, interval, start, end_date in contracts:
        # Periods ending by ``until`` (the cutoff's UTC day) are the ones ended by the cutoff.
        due = [
            p for p in term_periods(anchor=anchor, interval=interval, start=start,
                                    end_date=end_date, until=until)
            if (pk, p.start) not in invoiced
        ]
        if due:
            periods += len(due)
            customers.add(customer_id)
    customers |= set(
        Invoice.objects.filter(status=Invoice.Status.DRAFT, on_hold=False)
        .order_by().values_list("customer_id", flat=True).distinct()
    )
    return DueWork(sorted(customers), periods)


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


# --- Saving --------------------------------------------------------------------------------


@dataclass
class Saved:
    created: int = 0
    rerated: int = 0
    invoice_ids: list = field(default_factory=list)


def _new_invoice(built: BuiltInvoice, now: dt.datetime) -> dict[str, Any]:
    target = built.target
    period_start, period_end = period_moments(target.period)
    return {
        "id": uuid.uuid4(),
        "customer_id": target.customer_id,
        "contract_id": target.contract.pk,
        "plan_version_id": target.version_id,
        "period_start": period_start,
        "period_end": period_end,
        "currency": built.currency,
        "status": Invoice.Status.DRAFT,
        "total": built.total,
        "seat_equivalents": built.rated.seat_equivalents,
        "billed_seats": built.rated.billed_seats,
        "usage_snapshot": built.usage_snapshot,
        "late_usage_snapshots": built.late_usage_snapshots,
        "overrides": built.overrides,
        "rated_at": now,
    }


def _lines(invoice_id, built: BuiltInvoice) -> list[dict[str, Any]]:
    return [line_row(invoice_id, position, line) for position, line in enumerate(built.lines)]


def save_built(built: Sequence[BuiltInvoice], *, now: dt.datetime) -> Saved:
    """Insert new drafts and rewrite changed ones. Call inside a transaction."""
    saved = Saved()
    lines: list[dict[str, Any]] = []

    fresh = [(b, _new_invoice(b, now)) for b in built if b.target.existing is None]
    if fresh:
        # ON CONFLICT DO NOTHING: a concurrent run that got there first keeps its invoice.
        mine = insert_invoices([row for _, row in fresh])
        for b, row in fresh:
            if row["id"] in mine:
                lines.extend(_lines(row["id"], b))
                saved.invoice_ids.append(row["id"])
        saved.created = len(mine)

    redo = [b for b in built if b.target.existing is not None and b.changed()]
    if redo:
        locked = set(
            Invoice.objects.select_for_update()
            .filter(pk__in=sorted(b.target.existing.pk for b in redo), status=Invoice.Status.DRAFT)
            .order_by("pk").values_list("pk", flat=True)
        )
        redo = [b for b in redo if b.target.existing.pk in locked]  # finalized meanwhile: skip
        InvoiceLine.objects.filter(invoice_id__in=locked).delete()
        invoices = []
        for b in redo:
            invoice = b.target.existing
            invoice.plan_version_id = b.target.version_id
            invoice.total = b.total
            invoice.seat_equivalents = b.rated.seat_equivalents
            invoice.billed_seats = b.rated.billed_seats
            invoice.usage_snapshot = b.usage_snapshot
            invoice.late_usage_snapshots = b.late_usage_snapshots
            invoice.overrides = b.overrides
            invoice.rated_at = now
            invoice.updated_at = now
            invoices.append(invoice)
            lines.extend(_lines(invoice.pk, b))
        Invoice.objects.bulk_update(invoices, REDRAFT_FIELDS, batch_size=500)
        saved.invoice_ids.extend(i.pk for i in invoices)
        saved.rerated = len(invoices)

    insert_lines(lines)
    return saved


# --- Chunks and runs -----------------------------------------------------------------------


@dataclass
class ChunkOutcome:
    created: int = 0
    rerated: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def _failures(errors: dict[int, str]) -> list[dict[str, str]]:
    names = {pk: c.external_id for pk, c in customers_of(errors).items()}
    return [
        {"customer": names.get(customer_id, str(customer_id)), "error": error[:2000]}
        for customer_id, error in sorted(errors.items())
    ]


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


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
    books: PriceBooks | None = None, scans: WindowScans | None = None,
) -> ChunkOutcome:
    """Rate and save the work of some customers; failures are per customer."""
    outcome = ChunkOutcome()
    errors: dict[int, str] = {}
    rater = Rater(books=books, scans=scans, max_periods=max_periods_per_contract())
    try:
        with cyclic_gc_paused():
            targets, _ = rater.targets(customer_ids, as_of=as_of)
            results: list[CustomerResult] = rater.rate(targets)
            errors.update(rater.refused)
    except Exception as error:
        if len(customer_ids) == 1:
            logger.exception("billing customer %s failed", customer_ids[0])
            outcome.failures = _failures({customer_ids[0]: _error_text(error)})
            return outcome
        # A group-level failure (a query, a bad row): find the customer one by one.
        logger.exception("billing a group of %d customers failed; one by one", len(customer_ids))
        for customer_id in customer_ids:
            one = bill_customers(customer_ids=[customer_id], as_of=as_of, now=now,
                                 books=books, scans=scans)
            outcome.created += one.created
            outcome.rerated += one.rerated
            outcome.failures.extend(one.failures)
        return outcome

    good = [r for r in results if r.error is None]
    errors.update({r.customer_id: r.error for r in results if r.error is not None})
    try:
        with cyclic_gc_paused(), transaction.atomic():
            saved = save_built([b for r in good for b in r.built], now=now)
        outcome.created += saved.created
        outcome.rerated += saved.rerated
    except Exception:
        # Isolate the customer whose rows the database refused.
        logger.exception("saving a group of %d customers failed; one by one", len(good))
        for result in good:
            try:
                with transaction.atomic():
                    saved = save_built(result.built, now=now)
                outcome.created += saved.created
                outcome.rerated += saved.rerated
            except Exception as error:
                logger.exception("saving customer %s failed", result.customer_id)
                errors[result.customer_id] = _error_text(error)
    if errors:
        outcome.failures.extend(_failures(errors))
    return outcome


def billing_run_start(*, as_of: dt.datetime, now: dt.datetime | None = None,
                      size: int | None = None) -> tuple[BillingRun, list[list[int]]]:
    """Record a run and split its work into chunks of customers."""
    now = now or timezone.now()
    due = billing_due(as_of=as_of)
    parts = chunks(due.customer_ids, size or chunk_size())
    run = BillingRun.objects.create(
        as_of=as_of, requested_at=now, started_at=now, periods_due=due.periods_due,
        customers_total=len(due.customer_ids), chunks_total=len(parts),
        status=BillingRun.Status.RUNNING if parts else BillingRun.Status.DONE,
        finished_at=None if parts else now,
    )
    return run, parts


@transaction.atomic
def billing_run_record_chunk(*, run_id: uuid.UUID | str, outcome: ChunkOutcome,
                             now: dt.datetime | None = None) -> BillingRun:
    """Add one chunk's counts to its run; the last chunk closes the run."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    run.invoices_created += outcome.created
    run.drafts_rerated += outcome.rerated
    run.failures = [*run.failures, *outcome.failures]
    run.chunks_done += 1
    if run.chunks_done >= run.chunks_total:
        run.status = BillingRun.Status.FAILED if run.failures else BillingRun.Status.DONE
        run.finished_at = now or timezone.now()
    run.save()
    return run


def billing_run_chunk(*, run_id: uuid.UUID | str, customer_ids: Sequence[int],
                      books: PriceBooks | None = None,
                      scans: WindowScans | None = None) -> BillingRun:
    run = BillingRun.objects.get(pk=run_id)
    outcome = bill_customers(
        customer_ids=customer_ids, as_of=run.as_of, now=timezone.now(), books=books,
        scans=scans,
    )
    return billing_run_record_chunk(run_id=run_id, outcome=outcome)


def billing_run(*, as_of: dt.datetime, now: dt.datetime | None = None,
                size: int | None = None) -> BillingRun:
    """Run billing inline, chunk after chunk, and return the finished run."""
    run, parts = billing_run_start(as_of=as_of, now=now, size=size)
    books = PriceBooks()  # versions are shared by most customers: load each once
    # Customers share periods: a window's events are read once for the whole run.
    scans = WindowScans(lo=parts[0][0], hi=parts[-1][-1]) if parts else None
    for part in parts:
        run = billing_run_chunk(run_id=run.pk, customer_ids=part, books=books, scans=scans)
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
    )
    drafts = list(
        Invoice.objects.filter(pk=locked.pk).prefetch_related("lines")
    ) + list(later.prefetch_related("lines"))
    rater = Rater()
    targets, _ = rater.targets([locked.customer_id], as_of=None, drafts=drafts)
    for result in rater.rate(targets):
        if result.error is not None:
            raise ValidationError({"invoice": [f"Rating failed: {result.error}"]})
        save_built(result.built, now=now)
    return Invoice.objects.get(pk=locked.pk)
