"""The pricing lab's arithmetic: percentiles, per-seat figures, the recommended seat price
and allowance, the seat-only verdict and the money at stake (docs/lab.md).

Pure: Decimal in, Decimal out; no ORM, no clock, no settings, no numpy. Every number
the lab shows is computed here, exactly, so the tests can check it by hand.

- Percentiles interpolate linearly between the closest ranks, numpy's default method
  (``method="linear"``): over the sorted values ``x[0..n-1]`` the ``q``-th percentile
  sits at index ``h = (n - 1) × q / 100`` and is ``x[⌊h⌋] + (h − ⌊h⌋) × (x[⌊h⌋+1] − x[⌊h⌋])``.
  With decimals in and ``q`` a short decimal, that is exact.
- Per-seat figures (a period's value or cost ÷ its billed seats) keep
  ``PER_SEAT_PLACES`` decimals, half-up: billed seats have six places, so a quotient
  rarely terminates, and ten places is what a unit price keeps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from fractions import Fraction

from common.currencies import minor_units
from invoices.rating.money import quantize_half_up, round_money
from plans.periods import Period

PER_SEAT_PLACES = 10
SPREAD_PLACES = 2
UNSAFE_SPREAD = Decimal(10)  # the article's "varies by 10x across your user base"
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)

# Light, median, heavy and tail users: the percentiles the lab shows.
ARCHETYPES: tuple[tuple[str, int], ...] = (
    ("light", 20), ("median", 50), ("heavy", 80), ("tail", 95))

# Wide enough that no sum or product of the lab's decimals is ever rounded.
EXACT = Context(prec=80)


# --- percentiles -----------------------------------------------------------------------


def percentile(values: Iterable[Decimal], q: Decimal | int) -> Decimal:
    """The ``q``-th percentile (0–100) of ``values``, numpy's default linear method."""
    xs = sorted(Decimal(v) for v in values)
    if not xs:
        raise ValueError("no values to take a percentile of")
    q = Decimal(q)
    if not ZERO <= q <= HUNDRED:
        raise ValueError(f"percentile must be between 0 and 100, not {q}")
    with localcontext(EXACT):
        h = (len(xs) - 1) * q / HUNDRED
        lo = int(h.to_integral_value(rounding=ROUND_FLOOR))
        fraction = h - lo
        if fraction == 0 or lo + 1 >= len(xs):
            return xs[lo]
        return xs[lo] + fraction * (xs[lo + 1] - xs[lo])


@dataclass(frozen=True)
class Percentiles:
    """P20 / P50 / P80 / P95 of one figure: the light, median, heavy and tail users."""

    p20: Decimal
    p50: Decimal
    p80: Decimal
    p95: Decimal

    @classmethod
    def of(cls, values: Sequence[Decimal]) -> Percentiles:
        return cls(*(percentile(values, q) for _, q in ARCHETYPES))

    def at(self, q: int) -> Decimal:
        return getattr(self, f"p{q}")


def per_seat(amount: Decimal, billed_seats: Decimal) -> Decimal:
    """``amount`` per billed seat, half-up to ``PER_SEAT_PLACES`` decimals."""
    if billed_seats <= 0:
        raise ValueError("per-seat figures need at least some billed seat")
    with localcontext(EXACT):
        return quantize_half_up(Decimal(amount) / Decimal(billed_seats), PER_SEAT_PLACES)


# --- the sample ------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerPeriod:
    """One ended contract period of a customer, as the lab sees it."""

    customer: str  # external id
    contract_id: int
    period: Period
    version_id: int  # the version in force at the period's start
    billed_seats: Decimal  # SPEC 2 step 1
    provider_cost: Decimal  # of every event in the period
    usage: Mapping[str, Decimal] = field(default_factory=dict)  # metric code → value

    @property
    def seat_cost(self) -> Decimal:
        return per_seat(self.provider_cost, self.billed_seats)

    def seat_usage(self, metric: str) -> Decimal:
        return per_seat(self.usage.get(metric, ZERO), self.billed_seats)


@dataclass(frozen=True)
class Sample:
    """The customer-periods per-seat figures are taken over (billed seats > 0), and those
    left out of them for having none (their cost still counts in the money at stake)."""

    periods: tuple[CustomerPeriod, ...]
    metrics: tuple[str, ...]  # metric codes measured, in order
    zero_seat: tuple[CustomerPeriod, ...] = ()
    currency: str = "USD"

    @classmethod
    def of(cls, periods: Iterable[CustomerPeriod], *, metrics: Sequence[str],
           currency: str = "USD") -> Sample:
        periods = list(periods)
        kept = tuple(p for p in periods if p.billed_seats > 0)
        left = tuple(p for p in periods if p.billed_seats <= 0)
        return cls(kept, tuple(metrics), left, currency)

    @property
    def zero_seat_periods(self) -> int:
        return len(self.zero_seat)

    def seat_costs(self) -> list[Decimal]:
        return [p.seat_cost for p in self.periods]

    def seat_usages(self, metric: str) -> list[Decimal]:
        return [p.seat_usage(metric) for p in self.periods]


@dataclass(frozen=True)
class Distribution:
    """Percentiles of per-seat cost and of each metric's per-seat usage over a sample."""

    customer_periods: int
    zero_seat_periods: int
    seat_cost: Percentiles | None  # None for an empty sample
    seat_usage: Mapping[str, Percentiles]


def distribution(sample: Sample) -> Distribution:
    if not sample.periods:
        return Distribution(0, sample.zero_seat_periods, None, {})
    return Distribution(
        customer_periods=len(sample.periods),
        zero_seat_periods=sample.zero_seat_periods,
        seat_cost=Percentiles.of(sample.seat_costs()),
        seat_usage={m: Percentiles.of(sample.seat_usages(m)) for m in sample.metrics},
    )


# --- recommendations -------------------------------------------------------------------


def _ceiling(value: Fraction, places: int) -> Decimal:
    """``value`` rounded up to ``places`` decimals, exactly (a Fraction has no rounding)."""
    scale = 10**places
    return Decimal(math.ceil(value * scale)).scaleb(-places)


def _fraction(value: Decimal | int) -> Fraction:
    return Fraction(Decimal(value))


def check_margin(target_margin: Decimal) -> None:
    if not ZERO <= target_margin < ONE:
        raise ValueError(f"target margin must be at least 0 and below 1, not {target_margin}")


def recommended_seat_price(seat_cost: Decimal, *, target_margin: Decimal,
                           currency: str) -> Decimal:
    """``seat_cost / (1 − target_margin)``, rounded up to the currency's minor unit: the
    lowest price at which a seat costing ``seat_cost`` keeps the target margin."""
    check_margin(target_margin)
    price = _fraction(seat_cost) / (1 - _fraction(target_margin))
    return _ceiling(price, minor_units(currency))


def recommended_allowance(seat_usage: Decimal) -> int:
    """A per-seat usage rounded up to a whole unit."""
    return math.ceil(_fraction(seat_usage))


def covered_seat_cost(seat_price: Decimal, *, target_margin: Decimal) -> Decimal:
    """The provider cost per seat a seat price covers while keeping the target margin."""
    check_margin(target_margin)
    with localcontext(EXACT):
        return Decimal(seat_price) * (ONE - Decimal(target_margin))


@dataclass(frozen=True)
class Verdict:
    """Is one seat price safe for everyone? ``spread`` is P95 / P20 of per-seat cost (2
    places; None when P20 is 0); unsafe when the exact ratio exceeds 10."""

    spread: Decimal | None
    unsafe: bool


def seat_only_verdict(seat_cost: Percentiles) -> Verdict:
    p20, p95 = seat_cost.p20, seat_cost.p95
    with localcontext(EXACT):
        unsafe = p95 > UNSAFE_SPREAD * p20  # exact: no rounded ratio decides it
        # Light users who cost nothing and anyone who costs something: no finite ratio.
        spread = None if p20 == 0 else quantize_half_up(p95 / p20, SPREAD_PLACES)
    return Verdict(spread, unsafe)


@dataclass(frozen=True)
class Exposure:
    """What a seat-only price leaves uncovered over a sample (docs/lab.md, "Money at stake").

    ``money_at_stake`` = Σ over customer-periods of max(0, provider cost − billed seats ×
    covered cost per seat): the provider cost the seat price does not cover at the target
    margin; a period with 0 billed seats covers nothing, so all its cost counts.
    ``periods_above`` counts the customer-periods with any, and ``their_cost`` is their
    whole provider cost.
    """

    covered_seat_cost: Decimal
    money_at_stake: Decimal
    periods_above: int
    their_cost: Decimal


def exposure(periods: Sequence[CustomerPeriod], *, seat_price: Decimal,
             target_margin: Decimal, currency: str) -> Exposure:
    covered = covered_seat_cost(seat_price, target_margin=target_margin)
    uncovered = ZERO
    above = 0
    their_cost = ZERO
    with localcontext(EXACT):
        for p in periods:
            excess = p.provider_cost - p.billed_seats * covered
            if excess > 0:
                uncovered += excess
                above += 1
                their_cost += p.provider_cost
    return Exposure(
        covered_seat_cost=covered,
        money_at_stake=round_money(uncovered, currency),
        periods_above=above,
        their_cost=round_money(their_cost, currency),
    )
