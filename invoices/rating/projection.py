"""Where the open period is heading: each charge's usage and the bill at the period's end,
and the moment the current pace would pass each allowance. Pure: frozen dataclasses and
Decimal in, no ORM, no clock (the caller says what "now" is).

The method, stated on the customer's dashboard as it is here:

- A metric that adds up over time (``sum``, ``count``) goes on at its pace so far:
  projected = used so far / elapsed time × the period's length (``LINEAR``), rounded to
  the places the usage itself has (a count stays whole).
- A metric that is a high-water mark (``max``, ``unique_count``: the largest value, the
  distinct seats or models seen) does not grow with time: its projection is what it is
  now (``HELD``).
- The projected bill is the period rated by the same engine on the projected usage, with
  the same seats (the seat line already counts today's seats to the period's end) and
  the late-usage lines the period already carries.
- An allowance is passed, at this pace, at start + elapsed × allowance / used: the
  moment the straight line through (start, 0) and (now, used) reaches it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

from invoices.rating.engine import rate_period
from invoices.rating.money import MONEY_CONTEXT, in_money_context, round_money
from invoices.rating.types import Line, RatedPeriod, SeatSpan, Terms
from plans.periods import Period

ZERO = Decimal(0)
HUNDRED = Decimal(100)
_MICROSECONDS = 1_000_000


class Method(StrEnum):
    LINEAR = "linear"  # grows with time: used / elapsed × length
    HELD = "held"  # a high-water mark: stays where it is


# Metric aggregations (``plans.models.Metric.Aggregation``) and how each is projected.
METHOD_OF_AGGREGATION = {"sum": Method.LINEAR, "count": Method.LINEAR,
                         "max": Method.HELD, "unique_count": Method.HELD}


def method_of(aggregation: str) -> Method:
    return METHOD_OF_AGGREGATION.get(aggregation, Method.HELD)


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _MICROSECONDS + delta.microseconds


@dataclass(frozen=True)
class Pace:
    """How far ``at`` is into ``[start, end)``; ``at`` outside is clamped to the range."""

    start: dt.datetime
    end: dt.datetime
    at: dt.datetime

    def __post_init__(self) -> None:
        for moment in (self.start, self.end, self.at):
            if moment.utcoffset() is None:
                raise ValueError("pace times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")

    @classmethod
    def of(cls, period: Period, at: dt.datetime) -> Pace:
        return cls(period.start_at, period.end_at, at)

    @property
    def now(self) -> dt.datetime:
        return min(max(self.at, self.start), self.end)

    @property
    def elapsed(self) -> dt.timedelta:
        return self.now - self.start

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def fraction(self) -> Decimal:
        """Elapsed / length, exact to the microsecond (0 at the start, 1 at the end)."""
        return MONEY_CONTEXT.divide(Decimal(_micros(self.elapsed)), Decimal(_micros(self.length)))

    @property
    def days_left(self) -> int:
        """Days until the period ends, a started day counting as one (0 once it has ended)."""
        left = self.end - self.now
        return left.days + (1 if left.seconds or left.microseconds else 0)


def _places(value: Decimal) -> int:
    exponent = value.normalize(MONEY_CONTEXT).as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@in_money_context
def project_value(used: Decimal, *, pace: Pace, method: Method) -> Decimal:
    """``used`` so far, carried to the period's end by ``method`` (module docstring)."""
    if method == Method.HELD or pace.elapsed >= pace.length:
        return used
    elapsed = _micros(pace.elapsed)
    if elapsed == 0:
        return used  # nothing to measure a pace on yet
    projected = used * _micros(pace.length) / elapsed
    return projected.quantize(Decimal(1).scaleb(-_places(used)), rounding=ROUND_HALF_UP)


class Crossing(StrEnum):
    NO_ALLOWANCE = "no_allowance"
    PASSED = "passed"  # already above the allowance
    AHEAD = "ahead"  # the pace passes it before the period ends, at ``Outlook.passes_at``
    NOT_THIS_PERIOD = "not_this_period"  # the pace stays within it to the end


@dataclass(frozen=True)
class Outlook:
    """One allowance against the pace: whether and when it is passed."""

    crossing: Crossing
    passes_at: dt.datetime | None = None  # AHEAD: the moment


@in_money_context
def allowance_outlook(used: Decimal, allowance: Decimal, *, pace: Pace,
                      method: Method) -> Outlook:
    if allowance <= 0:
        return Outlook(Crossing.NO_ALLOWANCE)
    if used > allowance:
        return Outlook(Crossing.PASSED)
    if method == Method.HELD or used <= 0 or pace.elapsed >= pace.length:
        return Outlook(Crossing.NOT_THIS_PERIOD)
    # start + elapsed × allowance / used, to the whole microsecond (rounded down).
    offset = (Decimal(_micros(pace.elapsed)) * allowance / used).to_integral_value(ROUND_FLOOR)
    if offset >= _micros(pace.length):
        return Outlook(Crossing.NOT_THIS_PERIOD)
    return Outlook(Crossing.AHEAD, pace.start + dt.timedelta(microseconds=int(offset)))


@in_money_context
def day_passed(daily: Sequence[tuple[dt.date, Decimal]], allowance: Decimal) -> dt.date | None:
    """The first day on which the running total of ``daily`` (in day order) went above
    ``allowance``; None when it never did (or there is no allowance)."""
    if allowance <= 0:
        return None
    total = ZERO
    for day, value in daily:
        total += value
        if total > allowance:
            return day
    return None


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``whole``, half-up to one place; None when whole is 0."""
    if whole <= 0:
        return None
    value = MONEY_CONTEXT.divide(part * HUNDRED, whole)
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)


@dataclass(frozen=True)
class ProjectedBill:
    usage: Mapping[str, Decimal]  # per charge key, at the period's end
    rated: RatedPeriod
    carried: tuple[Line, ...]  # late-usage lines the period already carries
    total: Decimal


@in_money_context
def project_bill(*, terms: Terms, seats: Sequence[SeatSpan], period: Period,
                 usage: Mapping[str, Decimal], methods: Mapping[str, Method], pace: Pace,
                 carried: Sequence[Line] = ()) -> ProjectedBill:
    """The period rated on each charge's projected usage (``methods`` per charge key;
    a charge without one is held)."""
    projected = {
        key: project_value(value, pace=pace, method=methods.get(key, Method.HELD))
        for key, value in usage.items()
    }
    rated = rate_period(terms=terms, seats=seats, usage=projected, period=period)
    carried = tuple(carried)
    total = round_money(rated.total + sum((line.amount for line in carried), ZERO),
                        terms.currency)
    return ProjectedBill(usage=projected, rated=rated, carried=carried, total=total)
