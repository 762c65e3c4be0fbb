"""Seat-equivalents: how many full-period seats a seat history is worth (SPEC 2.1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from invoices.rating.types import SeatSpan
from plans.periods import Period

SEAT_PLACES = 6


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time has no defined UTC day, and billing days are UTC days.
        raise ValueError(f"seat time {moment.isoformat()} must be timezone-aware")
    return moment.astimezone(dt.UTC)


def _active_days(span: SeatSpan, last_day: int) -> tuple[int, int] | None:
    """Half-open range of day ordinals on which the span was active at any moment."""
    start = _utc(span.active_from)
    first = start.date().toordinal()
    if span.active_until is None:
        return first, last_day
    until = _utc(span.active_until)
    if until <= start:
        return None  # never active, so never billable
    end = until.date().toordinal()
    # Active until 00:00 exactly means the seat was gone for all of that day.
    if until.time() != dt.time(0):
        end += 1
    return first, end


def _covered(ranges: list[tuple[int, int]]) -> int:
    """Days covered by the union of half-open ranges (overlaps count once)."""
    total = 0
    reach: int | None = None
    for lo, hi in sorted(ranges):
        if reach is not None:
            lo = max(lo, reach)
        if hi > lo:
            total += hi - lo
            reach = hi
    return total


def seat_days(spans: Iterable[SeatSpan], period: Period) -> int:
    first, last = period.start.toordinal(), period.end.toordinal()
    by_email: dict[str, list[tuple[int, int]]] = {}
    for span in spans:
        days = _active_days(span, last)
        if days is None:
            continue
        lo, hi = max(days[0], first), min(days[1], last)
        if lo < hi:
            # Email case is not meaningful to people; one person is one seat.
            by_email.setdefault(span.email.strip().lower(), []).append((lo, hi))
    return sum(_covered(ranges) for ranges in by_email.values())


def seat_equivalents(spans: Iterable[SeatSpan], period: Period) -> Decimal:
    """Σ seat-days / days in period, half-up to 6 places, in exact integer arithmetic."""
    if period.days <= 0:
        raise ValueError(f"empty period {period!r}")
    quotient, remainder = divmod(seat_days(spans, period) * 10**SEAT_PLACES, period.days)
    if 2 * remainder >= period.days:
        quotient += 1
    return Decimal((0, tuple(int(d) for d in str(quotient)), -SEAT_PLACES))
