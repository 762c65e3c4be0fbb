"""The one writer of rated invoices: inserts new drafts with their lines, rewrites the
drafts whose rating changed, and records a chunk's counts and failures on its run.

Exactly one invoice per contract period, also when two runs race: new invoices go in
with ON CONFLICT DO NOTHING on the (contract, period_start) constraint
(``invoices.services.bulk_write``) and only the rows this run inserted get lines. A
draft is rewritten only when something in its rating changed (lines, version, totals,
snapshots, overrides), under a row lock, and skipped if it was finalized meanwhile.
A customer whose rows the database refuses is recorded as a failure; the others are saved.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from accounts.models import Customer
from invoices.models import BillingRun, Invoice, InvoiceLine
from invoices.rating.drafts import CustomerRating, RatedInvoice
from invoices.rating.planning import period_moments
from invoices.selectors.billing_load import SavedDraft
from invoices.selectors.line_rows import line_fingerprint, line_row
from invoices.services.bulk_write import insert_invoices, insert_lines

logger = logging.getLogger(__name__)

REDRAFT_FIELDS = [
    "plan_version", "total", "seat_equivalents", "billed_seats", "usage_snapshot",
    "late_usage_snapshots", "overrides", "rated_at", "updated_at",
]


@dataclass
class ChunkOutcome:
    created: int = 0
    rerated: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # customer id → why it failed

    def add(self, other: ChunkOutcome) -> None:
        self.created += other.created
        self.rerated += other.rerated
        self.errors.update(other.errors)


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def save_ratings(
    ratings: Sequence[CustomerRating], *, drafts: Mapping[Any, SavedDraft],
    refused: Mapping[int, str], now: dt.datetime,
) -> ChunkOutcome:
    """Save every customer's rated invoices in one transaction; when the database refuses
    the group, customer by customer, recording the ones it refuses. Customers refused by
    the plan or whose rating failed are recorded as failures."""
    outcome = ChunkOutcome(errors=dict(refused))
    outcome.errors.update({r.customer_id: r.error for r in ratings if r.error is not None})
    good = [r for r in ratings if r.error is None]
    try:
        with transaction.atomic():
            outcome.add(save_rated([i for r in good for i in r.invoices], drafts=drafts,
                                   now=now))
    except Exception:
        logger.exception("saving a group of %d customers failed; one by one", len(good))
        for rating in good:
            try:
                with transaction.atomic():
                    outcome.add(save_rated(rating.invoices, drafts=drafts, now=now))
            except Exception as error:
                logger.exception("saving customer %s failed", rating.customer_id)
                outcome.errors[rating.customer_id] = error_text(error)
    return outcome


def save_rated(invoices: Sequence[RatedInvoice], *, drafts: Mapping[Any, SavedDraft],
               now: dt.datetime) -> ChunkOutcome:
    """Insert new drafts and rewrite changed ones. Call inside a transaction."""
    saved = ChunkOutcome()
    lines: list[dict[str, Any]] = []

    fresh = [(i, _new_invoice(i, now)) for i in invoices if i.target.draft_id is None]
    if fresh:
        # ON CONFLICT DO NOTHING: a concurrent run that got there first keeps its invoice.
        mine = insert_invoices([row for _, row in fresh])
        for invoice, row in fresh:
            if row["id"] in mine:
                lines.extend(_lines(row["id"], invoice))
        saved.created = len(mine)

    redo = [i for i in invoices
            if i.target.draft_id is not None and changed(i, drafts[i.target.draft_id])]
    if redo:
        locked = set(
            Invoice.objects.select_for_update()
            .filter(pk__in=sorted(i.target.draft_id for i in redo), status=Invoice.Status.DRAFT)
            .order_by("pk").values_list("pk", flat=True)
        )
        redo = [i for i in redo if i.target.draft_id in locked]  # finalized meanwhile: skip
        InvoiceLine.objects.filter(invoice_id__in=locked).delete()
        rows = []
        for rated in redo:
            rows.append(Invoice(
                pk=rated.target.draft_id, plan_version_id=rated.target.version_id,
                total=rated.total, seat_equivalents=rated.rated.seat_equivalents,
                billed_seats=rated.rated.billed_seats, usage_snapshot=rated.usage_snapshot,
                late_usage_snapshots=rated.late_usage_snapshots, overrides=rated.overrides,
                rated_at=now, updated_at=now,
            ))
            lines.extend(_lines(rated.target.draft_id, rated))
        Invoice.objects.bulk_update(rows, REDRAFT_FIELDS, batch_size=500)
        saved.rerated = len(rows)

    insert_lines(lines)
    return saved


def changed(rated: RatedInvoice, saved: SavedDraft) -> bool:
    """Whether a draft's saved content differs from its new rating."""
    return (
        saved.line_fingerprints != tuple(line_fingerprint(line) for line in rated.lines)
        or saved.plan_version_id != rated.target.version_id
        or saved.total != rated.total
        or saved.seat_equivalents != rated.rated.seat_equivalents
        or saved.billed_seats != rated.rated.billed_seats
        or saved.usage_snapshot != rated.usage_snapshot
        or saved.late_usage_snapshots != rated.late_usage_snapshots
        or saved.overrides != rated.overrides
    )


def _new_invoice(rated: RatedInvoice, now: dt.datetime) -> dict[str, Any]:
    target = rated.target
    period_start, period_end = period_moments(target.period)
    return {
        "id": uuid.uuid4(),
        "customer_id": target.customer_id,
        "contract_id": target.contract_id,
        "plan_version_id": target.version_id,
        "period_start": period_start,
        "period_end": period_end,
        "currency": rated.currency,
        "status": Invoice.Status.DRAFT,
        "total": rated.total,
        "seat_equivalents": rated.rated.seat_equivalents,
        "billed_seats": rated.rated.billed_seats,
        "usage_snapshot": rated.usage_snapshot,
        "late_usage_snapshots": rated.late_usage_snapshots,
        "overrides": rated.overrides,
        "rated_at": now,
    }


def _lines(invoice_id, rated: RatedInvoice) -> list[dict[str, Any]]:
    return [line_row(invoice_id, position, line) for position, line in enumerate(rated.lines)]


# --- The run's record ---------------------------------------------------------------------


def _failures(errors: Mapping[int, str]) -> list[dict[str, str]]:
    names = dict(Customer.objects.filter(pk__in=list(errors)).values_list("pk", "external_id"))
    return [
        {"customer": names.get(customer_id, str(customer_id)), "error": error[:2000]}
        for customer_id, error in sorted(errors.items())
    ]


@transaction.atomic
def billing_run_record_chunk(*, run_id: uuid.UUID | str, outcome: ChunkOutcome,
                             now: dt.datetime) -> BillingRun:
    """Add one chunk's counts and failures to its run; the last chunk closes the run."""
    run = BillingRun.objects.select_for_update().get(pk=run_id)
    run.invoices_created += outcome.created
    run.drafts_rerated += outcome.rerated
    if outcome.errors:
        run.failures = [*run.failures, *_failures(outcome.errors)]
    run.chunks_done += 1
    if run.chunks_done >= run.chunks_total:
        run.status = BillingRun.Status.FAILED if run.failures else BillingRun.Status.DONE
        run.finished_at = now
    run.save()
    return run
