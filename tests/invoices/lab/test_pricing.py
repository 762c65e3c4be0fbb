"""The lab's arithmetic by hand: percentiles (numpy's linear method), per-seat figures,
the recommended seat price and allowance, the verdict and the money at stake."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices.lab.pricing import (
    CustomerPeriod,
    Percentiles,
    Sample,
    covered_seat_cost,
    distribution,
    exposure,
    per_seat,
    percentile,
    recommended_allowance,
    recommended_seat_price,
    seat_only_verdict,
)
from plans.periods import Period

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def period(cost: str, seats: str, **usage: str) -> CustomerPeriod:
    return CustomerPeriod(customer="c", contract_id=1, period=OCTOBER, version_id=1,
                          billed_seats=D(seats), provider_cost=D(cost),
                          usage={k: D(v) for k, v in usage.items()})


@pytest.mark.parametrize(("values", "q", "expected"), [
    (["1", "2", "3", "4"], 80, "3.4"),  # h = 3 × 0.8 = 2.4: 3 + 0.4 × (4 − 3)
    (["4", "1", "3", "2"], 80, "3.4"),  # order does not matter
    (["1", "2", "3", "4", "5"], 50, "3"),  # h = 2 exactly: a value of the sample
    (["1", "2", "3", "4", "5"], 20, "1.8"),  # h = 0.8
    (["1", "2", "3", "4", "5"], 95, "4.8"),  # h = 3.8
    (["10"], 95, "10"),  # one value is every percentile
    (["0", "100"], 0, "0"),
    (["0", "100"], 100, "100"),
    (["0.5", "0.75"], 80, "0.70"),  # 0.5 + 0.8 × 0.25
])
def test_percentiles_interpolate_linearly_between_closest_ranks(values, q, expected):
    assert percentile([D(v) for v in values], q) == D(expected)


def test_a_percentile_of_nothing_or_out_of_range_is_refused():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([D(1)], 101)


@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40),
       st.integers(min_value=0, max_value=100))
def test_percentiles_agree_with_numpy(values, q):
    expected = numpy.percentile(values, q)
    assert float(percentile([D(v) for v in values], q)) == pytest.approx(expected, rel=1e-9,
                                                                       abs=1e-6)


@given(st.lists(st.decimals(min_value=0, max_value=10**6, places=4), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=100))
def test_a_percentile_lies_between_the_smallest_and_largest_value(values, q):
    assert min(values) <= percentile(values, q) <= max(values)


def test_per_seat_figures_keep_ten_places_half_up():
    assert per_seat(D(10), D(3)) == D("3.3333333333")
    assert per_seat(D(20), D(3)) == D("6.6666666667")
    assert per_seat(D(1), D(7)) == D("0.1428571429")  # 0.1428571428 57…
    assert per_seat(D("216.80"), D("4")) == D("54.2")
    with pytest.raises(ValueError):
        per_seat(D(1), D(0))


@pytest.mark.parametrize(("cost", "margin", "currency", "expected"), [
    ("3.4", "0.7", "USD", "11.34"),  # 11.333… rounded up, not to the nearest
    ("3", "0.7", "USD", "10.00"),  # exactly 10: no cent added
    ("3.4", "0.7", "JPY", "12"),
    ("2.0001", "0.5", "USD", "4.01"),  # 4.0002 up
    ("5", "0", "USD", "5.00"),
])
def test_the_seat_price_is_the_cost_over_one_minus_margin_rounded_up(cost, margin, currency,
                                                                     expected):
    price = recommended_seat_price(D(cost), target_margin=D(margin), currency=currency)
    assert price == D(expected)
    assert str(price) == expected


def test_a_margin_of_one_or_more_is_refused():
    with pytest.raises(ValueError, match="below 1"):
        recommended_seat_price(D(1), target_margin=D(1), currency="USD")


@pytest.mark.parametrize(("usage", "expected"), [("1000", 1000), ("1000.2", 1001),
                                                 ("0.0000000001", 1), ("0", 0)])
def test_the_allowance_is_rounded_up_to_a_whole_unit(usage, expected):
    assert recommended_allowance(D(usage)) == expected


@pytest.mark.parametrize(("p20", "p95", "spread", "unsafe"), [
    ("1", "10", "10.00", False),  # exactly 10×: not more than 10
    ("1", "10.01", "10.01", True),
    ("3", "31", "10.33", True),
    ("2", "5", "2.50", False),
    ("0", "1", None, True),  # light users cost nothing, the tail does: no finite ratio
    ("0", "0", None, False),
])
def test_seat_only_is_unsafe_when_p95_exceeds_ten_times_p20(p20, p95, spread, unsafe):
    verdict = seat_only_verdict(Percentiles(D(p20), D(p20), D(p95), D(p95)))
    assert verdict.spread == (None if spread is None else D(spread))
    assert verdict.unsafe is unsafe


def test_money_at_stake_is_the_cost_above_what_the_seat_price_covers_at_the_margin():
    # Covered per seat: 20.00 × (1 − 0.7) = 6. Two seats costing 30 leave 30 − 12 = 18
    # uncovered; one seat costing 5 is covered (nothing negative is netted off).
    periods = [period("30", "2"), period("5", "1"), period("12", "2")]
    found = exposure(periods, seat_price=D("20.00"), target_margin=D("0.7"), currency="USD")
    assert covered_seat_cost(D("20.00"), target_margin=D("0.7")) == D(6)
    assert found.money_at_stake == D("18.00")
    assert found.periods_above == 1
    assert found.their_cost == D("30.00")


def test_the_sample_leaves_periods_without_billed_seats_out_and_counts_them():
    sample = Sample.of([period("10", "2", tasks="100"), period("3", "0", tasks="7"),
                        period("6", "1", tasks="30")], metrics=["tasks"])
    assert sample.zero_seat_periods == 1
    found = distribution(sample)
    assert found.customer_periods == 2
    # Per-seat costs 5 and 6; per-seat tasks 50 and 30.
    assert found.seat_cost == Percentiles(D("5.2"), D("5.5"), D("5.8"), D("5.95"))
    assert found.seat_usage["tasks"] == Percentiles(D("34"), D("40"), D("46"), D("49"))


def test_an_empty_sample_has_no_percentiles():
    found = distribution(Sample.of([period("3", "0")], metrics=["tasks"]))
    assert (found.customer_periods, found.zero_seat_periods, found.seat_cost) == (0, 1, None)
