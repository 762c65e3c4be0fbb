"""Late usage (SPEC 4): events whose period already has a finalized invoice.

They are never dropped: the next invoice of the customer carries, per earlier period, the
difference between rating that period with the usage it has now and with the usage last
billed for it, on that period's own terms (version and contract overrides as stored on
its invoice).

*What was billed* for a period is the latest of: its own invoice's ``usage_snapshot``, or
the ``late_usage_snapshots[period]`` of a later non-void invoice of the customer that
comes before the one being rated. "Later" and "before" follow period order, so two drafts
rated in one run never bill the same late events twice. When a draft is rated again
while an invoice *after* it (finalized, or held) already billed late usage for a period,
the draft keeps what it had for that period: changing it would count those events twice.

Only periods that can still receive events are looked at: those ending less than the
backfill window (``USAGE_BACKFILL_DAYS``, passed in) before the start of the period being
billed (the ingest API refuses older timestamps, and every run before this one already
caught what came earlier).

Pure: states in, lines and snapshots out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from invoices.rating.engine import late_usage_lines
from invoices.rating.types import InvoiceStatus, Line, SeatSpan, Terms
from plans.periods import Period

BILLED = frozenset({InvoiceStatus.FINALIZED, InvoiceStatus.PAID})
ZERO = Decimal(0)


def period_key(period: Period) -> str:
    return period.start.isoformat()


def snapshot_of(values: Mapping[str, Decimal]) -> dict[str, str]:
    return {key: format(value, "f") for key, value in sorted(values.items())}


def values_of(snapshot: Mapping[str, Any]) -> dict[str, Decimal]:
    return {key: Decimal(str(value)) for key, value in snapshot.items()}


@dataclass(frozen=True)
class InvoiceState:
    """One invoice of a customer as late usage sees it (saved, or rated in this pass)."""

    id: Any
    period: Period
    status: InvoiceStatus
    plan_version_id: int
    overrides: Mapping[str, Any]
    usage_snapshot: Mapping[str, Any]
    late_usage_snapshots: Mapping[str, Mapping[str, Any]]
    late_lines: Sequence[Line] = ()
    rerating: bool = False  # rated again in this pass, so its late lines may still move

    @property
    def billed(self) -> bool:
        return self.status in BILLED


@dataclass(frozen=True)
class LateUsage:
    lines: tuple[Line, ...] = ()
    snapshots: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def late_candidates(
    states: Sequence[InvoiceState], *, target_start: dt.date, backfill: dt.timedelta
) -> list[InvoiceState]:
    """Billed periods before ``target_start`` that may still have received events."""
    oldest_end = target_start - backfill
    return sorted(
        (
            s for s in states
            if s.billed and s.period.start < target_start and s.period.end > oldest_end
        ),
        key=lambda s: s.period.start,
    )


def _frozen(states: Sequence[InvoiceState], target: InvoiceState, key: str) -> bool:
    return any(
        s.id != target.id and s.status != InvoiceStatus.VOID and not s.rerating
        and s.period.start > target.period.start and key in s.late_usage_snapshots
        for s in states
    )


def _billed_values(
    states: Sequence[InvoiceState], target: InvoiceState, original: InvoiceState
) -> dict[str, Decimal]:
    key = period_key(original.period)
    best, snapshot = original.period.start, original.usage_snapshot
    for s in states:
        if (
            s.id != target.id and s.status != InvoiceStatus.VOID
            and key in s.late_usage_snapshots
            and best < s.period.start < target.period.start
        ):
            best, snapshot = s.period.start, s.late_usage_snapshots[key]
    return values_of(snapshot)


def late_usage_for(
    *,
    target: InvoiceState,
    states: Sequence[InvoiceState],
    terms_of: Callable[[InvoiceState], Terms],
    seats: Sequence[SeatSpan],
    usage_now: Callable[[InvoiceState], Mapping[str, Decimal]],
    backfill: dt.timedelta,
    previous: InvoiceState | None = None,
) -> LateUsage:
    """Late lines and snapshots for ``target``; ``previous`` is its saved self when re-rated.

    ``states`` are the customer's invoices (``target`` among them), ``terms_of`` gives an
    earlier period's terms as stored on its invoice, ``usage_now`` its usage today.
    """
    lines: list[Line] = []
    snapshots: dict[str, dict[str, str]] = {}
    for original in late_candidates(states, target_start=target.period.start, backfill=backfill):
        key = period_key(original.period)
        if _frozen(states, target, key):
            if previous is not None:
                lines.extend(
                    line for line in previous.late_lines
                    if line.period_start == original.period.start
                )
                if key in previous.late_usage_snapshots:
                    snapshots[key] = dict(previous.late_usage_snapshots[key])
            continue
        before = _billed_values(states, target, original)
        after = dict(usage_now(original))
        if all(after.get(k, ZERO) == before.get(k, ZERO) for k in set(after) | set(before)):
            continue
        lines.extend(
            late_usage_lines(
                terms=terms_of(original), seats=seats, usage_before=before, usage_after=after,
                period=original.period,
            )
        )
        snapshots[key] = snapshot_of(after)
    return LateUsage(tuple(lines), snapshots)
