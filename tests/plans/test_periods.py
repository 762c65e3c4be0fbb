"""Edges of contract-anchored billing periods (SPEC section 1, "period")."""

from __future__ import annotations

import datetime as dt
from itertools import islice

import pytest

from plans.periods import (
    MONTH,
    YEAR,
    Period,
    add_months,
    is_period_start,
    period_boundary,
    period_containing,
    period_index_containing,
    periods_between,
)

d = dt.date


def test_month_end_anchor_clamps_in_short_months_and_returns_after():
    anchor = d(2026, 1, 31)

    assert [period_boundary(anchor, MONTH, n) for n in range(5)] == [
        d(2026, 1, 31),
        d(2026, 2, 28),
        d(2026, 3, 31),
        d(2026, 4, 30),
        d(2026, 5, 31),
    ]


def test_month_end_anchor_reaches_february_29_in_a_leap_year():
    assert period_boundary(d(2028, 1, 31), MONTH, 1) == d(2028, 2, 29)
    assert period_boundary(d(2028, 1, 30), MONTH, 1) == d(2028, 2, 29)


def test_add_months_crosses_year_ends_both_ways():
    assert add_months(d(2026, 11, 30), 3) == d(2027, 2, 28)
    assert add_months(d(2026, 3, 31), -1) == d(2026, 2, 28)
    assert add_months(d(2026, 1, 15), -1) == d(2025, 12, 15)


def test_yearly_anchor_on_february_29_clamps_then_returns_in_leap_years():
    anchor = d(2028, 2, 29)

    assert [period_boundary(anchor, YEAR, n) for n in range(5)] == [
        d(2028, 2, 29),
        d(2029, 2, 28),
        d(2030, 2, 28),
        d(2031, 2, 28),
        d(2032, 2, 29),
    ]
    assert period_containing(anchor, YEAR, d(2029, 2, 28)) == Period(d(2029, 2, 28), d(2030, 2, 28))
    assert period_containing(anchor, YEAR, d(2029, 2, 27)) == Period(d(2028, 2, 29), d(2029, 2, 28))


def test_period_is_half_open_with_utc_midnight_edges():
    october = Period(d(2026, 10, 1), d(2026, 11, 1))

    assert october.days == 31
    assert october.start_at == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    assert october.end_at == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert str(october) == "2026-10-01 to 2026-10-31"


@pytest.mark.parametrize(
    ("day", "expected", "index"),
    [
        (d(2026, 10, 15), Period(d(2026, 10, 15), d(2026, 11, 15)), 0),
        (d(2026, 11, 14), Period(d(2026, 10, 15), d(2026, 11, 15)), 0),
        (d(2026, 11, 15), Period(d(2026, 11, 15), d(2026, 12, 15)), 1),
        (d(2027, 1, 1), Period(d(2026, 12, 15), d(2027, 1, 15)), 2),
        (d(2026, 10, 14), Period(d(2026, 9, 15), d(2026, 10, 15)), -1),
        (d(2026, 8, 1), Period(d(2026, 7, 15), d(2026, 8, 15)), -3),
    ],
)
def test_period_containing_a_day_before_or_after_the_anchor(day, expected, index):
    anchor = d(2026, 10, 15)

    assert period_containing(anchor, MONTH, day) == expected
    assert period_index_containing(anchor, MONTH, day) == index


def test_period_containing_a_clamped_boundary_day():
    anchor = d(2026, 1, 31)

    assert period_containing(anchor, MONTH, d(2026, 2, 28)) == Period(
        d(2026, 2, 28), d(2026, 3, 31)
    )
    assert period_containing(anchor, MONTH, d(2026, 3, 30)) == Period(
        d(2026, 2, 28), d(2026, 3, 31)
    )
    assert period_containing(anchor, MONTH, d(2026, 2, 27)) == Period(
        d(2026, 1, 31), d(2026, 2, 28)
    )


def test_yearly_period_containing_uses_whole_years():
    anchor = d(2026, 10, 1)

    assert period_containing(anchor, YEAR, d(2027, 9, 30)) == Period(d(2026, 10, 1), d(2027, 10, 1))
    assert period_containing(anchor, YEAR, d(2027, 10, 1)) == Period(d(2027, 10, 1), d(2028, 10, 1))
    assert period_containing(anchor, YEAR, d(2026, 3, 1)) == Period(d(2025, 10, 1), d(2026, 10, 1))


def test_is_period_start_only_on_anchored_boundaries():
    anchor = d(2026, 1, 31)

    assert is_period_start(anchor, MONTH, d(2026, 1, 31))
    assert is_period_start(anchor, MONTH, d(2026, 2, 28))
    assert is_period_start(anchor, MONTH, d(2026, 3, 31))
    assert not is_period_start(anchor, MONTH, d(2026, 3, 28))
    assert not is_period_start(anchor, MONTH, d(2026, 3, 1))
    assert is_period_start(anchor, MONTH, d(2025, 12, 31))


def test_periods_between_yields_periods_starting_in_the_range():
    anchor = d(2026, 1, 31)

    periods = list(periods_between(anchor, MONTH, d(2026, 2, 1), d(2026, 5, 31)))

    assert periods == [
        Period(d(2026, 2, 28), d(2026, 3, 31)),
        Period(d(2026, 3, 31), d(2026, 4, 30)),
        Period(d(2026, 4, 30), d(2026, 5, 31)),
    ]


def test_periods_between_includes_a_period_starting_on_the_start_day():
    periods = list(periods_between(d(2026, 10, 1), MONTH, d(2026, 10, 1), d(2026, 11, 1)))

    assert periods == [Period(d(2026, 10, 1), d(2026, 11, 1))]


def test_periods_between_is_empty_when_no_period_starts_in_range():
    assert list(periods_between(d(2026, 10, 1), MONTH, d(2026, 10, 2), d(2026, 11, 1))) == []


def test_periods_between_without_end_goes_on_and_periods_tile():
    periods = list(islice(periods_between(d(2026, 10, 1), YEAR, d(2026, 10, 1), None), 4))

    assert [p.start.year for p in periods] == [2026, 2027, 2028, 2029]
    assert all(a.end == b.start for a, b in zip(periods, periods[1:], strict=False))


def test_unknown_interval_is_refused():
    with pytest.raises(ValueError, match="interval"):
        period_boundary(d(2026, 1, 1), "week", 1)


@pytest.mark.parametrize("anchor_day", [28, 29, 30, 31])
@pytest.mark.parametrize("interval", [MONTH, YEAR])
def test_every_day_falls_in_exactly_one_contiguous_period(anchor_day, interval):
    anchor = d(2027, 1, anchor_day)
    day = d(2026, 1, 1)
    previous = None
    while day < d(2030, 1, 1):
        period = period_containing(anchor, interval, day)
        assert period.start <= day < period.end
        if previous is not None and previous != period:
            assert previous.end == period.start == day
        previous = period
        day += dt.timedelta(days=1)
