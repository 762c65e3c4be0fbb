"""Seat-equivalents: how many full-period seats a seat history is worth (SPEC 2.1).

Interval arithmetic over UTC day numbers: each span becomes the half-open range of days
it touched, clipped to the period; one email's ranges are merged so overlaps count once.
A billing run rates every customer, so this stays a single pass without per-span calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from invoices.rating.types import SeatSpan
from plans.periods import Period

SEAT_PLACES = 6

# Subtracting an aware time from this gives its UTC day (``.days``) and whether it is
# past midnight (``.seconds``, ``.microseconds``) without converting it to UTC first.
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_DAY = _EPOCH.date().toordinal()


def _refuse_naive(span: SeatSpan) -> None:
    for moment in (span.active_from, span.active_until):
        if isinstance(moment, dt.datetime) and moment.utcoffset() is None:
            # A naive time has no defined UTC day, and billing days are UTC days.
            raise ValueError(f"seat time {moment.isoformat()} must be timezone-aware")


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
    """Σ over people of the UTC days of the period on which they held a seat at any moment.

    A span is active from its first moment's day up to its end's day, that day included
    unless the span ends at 00:00 exactly; a span that ends before it starts never counts.
    """
    first, last = period.start.toordinal(), period.end.toordinal()
    by_email: dict[str, list[tuple[int, int]]] = {}
    for span in spans:
        try:
            since = span.active_from - _EPOCH
            until = None if span.active_until is None else span.active_until - _EPOCH
        except TypeError:
            _refuse_naive(span)
            raise
        lo = _EPOCH_DAY + since.days
        if lo < first:
            lo = first
        if until is None:
            hi = last
        elif until <= since:
            continue  # never active, so never billable
        else:
            hi = _EPOCH_DAY + until.days
            if until.seconds or until.microseconds:
                hi += 1  # active until 00:00 exactly: gone for all of that day
            if hi > last:
                hi = last
        if lo < hi:
            # Email case is not meaningful to people; one person is one seat.
            by_email.setdefault(span.email.strip().lower(), []).append((lo, hi))
    total = 0
    for ranges in by_email.values():
        if len(ranges) == 1:
            lo, hi = ranges[0]
            total += hi - lo
        else:
            total += _covered(ranges)
    return total


def seat_equivalents(spans: Iterable[SeatSpan], period: Period) -> Decimal:
    """Σ seat-days / days in period, half-up to 6 places, in exact integer arithmetic."""
    days = period.days
    if days <= 0:
        raise ValueError(f"empty period {period!r}")
    quotient, remainder = divmod(seat_days(spans, period) * 10**SEAT_PLACES, days)
    if 2 * remainder >= days:
        quotient += 1
    return Decimal(f"{quotient}E-{SEAT_PLACES}")
