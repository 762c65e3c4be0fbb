"""Billing periods anchored on a contract's start date (SPEC section 1).

Pure functions over dates. A period is the half-open UTC interval ``[start, end)``;
monthly periods run from the anchor day of one month to the anchor day of the next,
a day past a month's end clamping to its last day (as Stripe does), yearly likewise.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

MONTH = "month"
YEAR = "year"
INTERVALS = (MONTH, YEAR)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def start_at(self) -> dt.datetime:
        return at_midnight(self.start)

    @property
    def end_at(self) -> dt.datetime:
        return at_midnight(self.end)

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {(self.end - dt.timedelta(days=1)).isoformat()}"


def at_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _months_per_period(interval: str) -> int:
    if interval == MONTH:
        return 1
    if interval == YEAR:
        return 12
    raise ValueError(f"unknown billing interval {interval!r}")


def add_months(anchor: dt.date, months: int) -> dt.date:
    """The anchor's day, ``months`` later, clamped to the target month's last day."""
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month0 = divmod(index, 12)
    last_day = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(anchor.day, last_day))


def period_boundary(anchor: dt.date, interval: str, n: int) -> dt.date:
    """Start of the n-th period after the anchor (n=0 is the anchor itself).

    Always computed from the anchor, never from the previous boundary, so a
    31st-anchored contract returns to the 31st after a short month.
    """
    return add_months(anchor, n * _months_per_period(interval))


def period_index_containing(anchor: dt.date, interval: str, day: dt.date) -> int:
    """Index n such that boundary(n) <= day < boundary(n+1); negative before the anchor."""
    step = _months_per_period(interval)
    n = ((day.year - anchor.year) * 12 + (day.month - anchor.month)) // step
    # The month arithmetic is at most one period off in either direction.
    while period_boundary(anchor, interval, n) > day:
        n -= 1
    while period_boundary(anchor, interval, n + 1) <= day:
        n += 1
    return n


def period_containing(anchor: dt.date, interval: str, day: dt.date) -> Period:
    n = period_index_containing(anchor, interval, day)
    return Period(period_boundary(anchor, interval, n), period_boundary(anchor, interval, n + 1))


def is_period_start(anchor: dt.date, interval: str, day: dt.date) -> bool:
    return period_containing(anchor, interval, day).start == day


def periods_between(
    anchor: dt.date, interval: str, start: dt.date, end: dt.date | None
) -> Iterator[Period]:
    """Periods of an anchor that begin in ``[start, end)`` (``end`` None: forever)."""
    n = period_index_containing(anchor, interval, start)
    if period_boundary(anchor, interval, n) < start:
        n += 1
    while True:
        period = Period(period_boundary(anchor, interval, n), period_boundary(anchor, interval, n + 1))
        if end is not None and period.start >= end:
            return
        yield period
        n += 1
