"""Properties of the rating engine that must hold for any price book and usage."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from common.currencies import minor_units
from invoices.rating import (
    ChargeTerms,
    SeatSpan,
    Terms,
    Tier,
    late_usage_lines,
    price_charge,
    rate_period,
    round_money,
)
from plans.periods import Period

PERIOD = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
MODEST = settings(max_examples=200, deadline=None)

money = st.decimals(min_value=0, max_value=1000, places=2)
unit_prices = st.decimals(min_value=0, max_value=10, places=6)
units = st.decimals(min_value=0, max_value=1_000_000, places=0)
fractional_units = st.decimals(min_value=0, max_value=100_000, places=3)


@st.composite
def tiers(draw, falling_prices: bool = False, flat_fees: bool = True):
    bounds = sorted(draw(st.sets(st.integers(1, 50_000), min_size=0, max_size=4)))
    prices = draw(st.lists(unit_prices, min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    if falling_prices:
        prices.sort(reverse=True)
    fees = [draw(money) if flat_fees else D(0) for _ in prices]
    uppers = [D(b) for b in bounds] + [None]
    return tuple(Tier(u, p, f) for u, p, f in zip(uppers, prices, fees, strict=True))


@st.composite
def charges(draw, key: str, models=("per_unit", "package", "graduated", "volume")):
    model = draw(st.sampled_from(models))
    allowance = dict(
        included_units=draw(st.decimals(min_value=0, max_value=5000, places=0)),
        included_per_seat=draw(st.none() | st.decimals(min_value=0, max_value=500, places=1)),
    )
    if model == "per_unit":
        return ChargeTerms(key, key, model, unit_price=draw(unit_prices), **allowance)
    if model == "package":
        return ChargeTerms(
            key,
            key,
            model,
            package_size=draw(st.integers(1, 1000)),
            package_price=draw(money),
            **allowance,
        )
    return ChargeTerms(key, key, model, tiers=draw(tiers()), **allowance)


@st.composite
def terms(draw):
    keys = draw(st.lists(st.sampled_from("abcd"), unique=True, max_size=4))
    return Terms(
        currency=draw(st.sampled_from(["USD", "JPY", "KWD"])),
        seat_price=draw(money),
        base_fee=draw(money),
        charges=tuple(draw(charges(k)) for k in keys),
        committed_seats=draw(st.integers(0, 10)),
        discount_percent=draw(st.none() | st.decimals(min_value=0, max_value=100, places=2)),
        overage_cap=draw(st.none() | money),
        minimum_commitment=draw(st.none() | st.decimals(min_value=0, max_value=5000, places=2)),
    )


moments = st.datetimes(
    min_value=dt.datetime(2026, 9, 20),
    max_value=dt.datetime(2026, 11, 10),
    timezones=st.just(dt.UTC),
)


@st.composite
def seat_spans(draw):
    spans = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(moments)
        until = draw(st.none() | moments.filter(lambda m, s=start: m > s))
        spans.append(SeatSpan(draw(st.sampled_from(["a@x", "b@x", "c@x"])), start, until))
    return spans


usages = st.dictionaries(st.sampled_from("abcd"), fractional_units, max_size=4)


def rate(t, seats, usage):
    return rate_period(terms=t, seats=seats, usage=usage, period=PERIOD)


@MODEST
@given(terms(), seat_spans(), usages)
def test_total_is_the_sum_of_the_lines(t, seats, usage):
    rated = rate(t, seats, usage)

    assert rated.total == sum((line.amount for line in rated.lines), D(0))


@MODEST
@given(terms(), seat_spans(), usages)
def test_every_line_is_rounded_to_the_currency(t, seats, usage):
    for line in rate(t, seats, usage).lines:
        assert line.amount.as_tuple().exponent == -minor_units(t.currency)


@MODEST
@given(charges("a", models=("per_unit", "package", "graduated")), units, units)
def test_more_usage_never_costs_less(charge, first, second):
    low, high = sorted([first, second])

    assert price_charge(charge, low).amount <= price_charge(charge, high).amount


@MODEST
@given(tiers(falling_prices=True, flat_fees=False), units)
def test_volume_never_costs_more_than_graduated_when_prices_fall(tier_list, billable):
    volume = ChargeTerms("a", "a", "volume", tiers=tier_list)
    graduated = ChargeTerms("a", "a", "graduated", tiers=tier_list)

    assert price_charge(volume, billable).amount <= price_charge(graduated, billable).amount


@MODEST
@given(terms(), seat_spans(), usages, money)
def test_usage_charges_never_exceed_the_cap(t, seats, usage, cap):
    t = dataclasses.replace(t, overage_cap=cap)
    rated = rate(t, seats, usage)

    capped = sum(line.amount for line in rated.lines if line.kind in ("usage", "overage_cap"))
    # A cap finer than the currency's minor unit (0.50 JPY) is billed as rounded.
    assert capped <= round_money(cap, t.currency)


@MODEST
@given(terms(), seat_spans(), usages)
def test_rating_is_deterministic_and_ignores_seat_order(t, seats, usage):
    assert rate(t, seats, usage) == rate(t, seats, dict(usage))
    assert rate(t, list(reversed(seats)), usage).lines == rate(t, seats, usage).lines


@MODEST
@given(terms(), seat_spans(), usages, usages)
def test_late_usage_lines_add_up_to_the_total_difference(t, seats, before, late):
    after = {key: before.get(key, D(0)) + late.get(key, D(0)) for key in before.keys() | late}
    lines = late_usage_lines(
        terms=t, seats=seats, usage_before=before, usage_after=after, period=PERIOD
    )

    difference = rate(t, seats, after).total - rate(t, seats, before).total
    assert sum((line.amount for line in lines), D(0)) == difference
    assert all(line.kind == "late_usage" and line.amount != 0 for line in lines)
