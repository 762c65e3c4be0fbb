"""Light, median, heavy and tail users, and what each would pay under each plan kind.

An archetype is one seat at a percentile of the sample: its per-seat cost is that
percentile of per-seat cost, and its usage of each metric that percentile of the metric's
per-seat usage (each figure taken on its own, as the article's light/median/heavy
users are). What it would pay is what the rating engine bills **a one-seat customer**
with that usage for one period on each price book: seat-only at the recommended price,
the plan's current version, and a candidate version. A charge is given its metric's
per-seat usage (a charge's own filters are not applied: an upper bound).

Pure: price books (``Terms``) in, amounts out; the selectors load them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from invoices.lab.pricing import ARCHETYPES, ZERO, Distribution
from invoices.rating import SeatSpan, Terms, rate_period, round_money
from invoices.rating.money import quantize_half_up
from plans.periods import Period

SEAT_ONLY = "seat_only"
CURRENT = "current"
CANDIDATE = "candidate"
PLAN_KINDS = {SEAT_ONLY: "Seat-only at the recommended price", CURRENT: "Current version",
              CANDIDATE: "Candidate version"}
HISTOGRAM_BINS = 12


@dataclass(frozen=True)
class Profile:
    """One archetype's per-seat figures."""

    name: str  # light, median, heavy, tail
    percentile: int
    seat_cost: Decimal
    seat_usage: Mapping[str, Decimal]


@dataclass(frozen=True)
class Bill:
    """What one archetype pays on one price book for a period, and the margin left."""

    total: Decimal
    margin: Decimal  # total − per-seat provider cost, in the minor unit
    margin_percent: Decimal | None  # of the total, one place; None when it pays nothing


@dataclass(frozen=True)
class Archetype:
    profile: Profile
    bills: Mapping[str, Bill]  # plan kind → bill


def profiles(distribution: Distribution) -> list[Profile]:
    """The four archetypes of a measured sample (none for an empty one)."""
    if distribution.seat_cost is None:
        return []
    return [
        Profile(name, q, distribution.seat_cost.at(q),
                {metric: p.at(q) for metric, p in distribution.seat_usage.items()})
        for name, q in ARCHETYPES
    ]


def seat_only_terms(*, seat_price: Decimal, currency: str) -> Terms:
    return Terms(currency=currency, seat_price=seat_price, base_fee=ZERO, charges=())


def one_seat_bill(terms: Terms, profile: Profile, period: Period) -> Bill:
    """Rate one seat active the whole period with the profile's usage, as a billing run
    would (no committed seats, no contract overrides)."""
    seat = SeatSpan("archetype@lab.invalid", period.start_at, None)
    usage = {c.key: profile.seat_usage.get(c.metric, ZERO) for c in terms.charges}
    total = rate_period(terms=terms, seats=[seat], usage=usage, period=period).total
    margin = round_money(total - profile.seat_cost, terms.currency)
    percent = None if total == 0 else quantize_half_up(margin * 100 / total, 1)
    return Bill(total, margin, percent)


def price_profiles(found: Sequence[Profile], *, books: Mapping[str, Terms | None],
                   period: Period) -> list[Archetype]:
    """Each profile's bill on each given price book (``None`` books are left out)."""
    chosen = {kind: terms for kind, terms in books.items() if terms is not None}
    return [
        Archetype(profile, {kind: one_seat_bill(terms, profile, period)
                            for kind, terms in chosen.items()})
        for profile in found
    ]


@dataclass(frozen=True)
class Bin:
    low: Decimal
    high: Decimal
    count: int


def histogram(values: Sequence[Decimal], *, bins: int = HISTOGRAM_BINS) -> list[Bin]:
    """Equal-width bins from 0 to the largest value (each includes its upper edge, the
    first also 0): the chart of per-seat cost."""
    if not values:
        return []
    top = max(values)
    if top <= 0:
        return [Bin(ZERO, ZERO, len(values))]
    width = top / bins
    counts = [0] * bins
    for value in values:
        index = 0 if value <= 0 else min(bins - 1, int((value / width).to_integral_value(
            rounding="ROUND_CEILING")) - 1)
        counts[index] += 1
    return [Bin(width * i, width * (i + 1), counts[i]) for i in range(bins)]
