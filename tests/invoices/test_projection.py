"""Where the open period is heading (pure, no database): linear pace for what adds up,
held values for high-water marks, the moment an allowance is passed, the projected bill
rated by the engine, and what a migration changes."""

import datetime as dt
from decimal import Decimal

import pytest

from invoices.rating import ChargeTerms, LineKind, SeatSpan, Terms, Tier
from invoices.rating.compare import Kind, TermChange, terms_changes
from invoices.rating.projection import (
    Crossing,
    Method,
    Pace,
    allowance_outlook,
    day_passed,
    method_of,
    percent,
    project_bill,
    project_value,
)
from invoices.rating.types import Line
from plans.periods import Period

D = Decimal
UTC = dt.UTC
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))  # 30 days


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=UTC)


def test_pace_measures_the_elapsed_share_and_the_days_left():
    pace = Pace.of(NOVEMBER, at(11))  # 10 of 30 days gone
    assert pace.fraction.quantize(D("0.000001")) == D("0.333333")
    assert Pace.of(NOVEMBER, at(16)).fraction == D("0.5")
    assert pace.days_left == 20
    assert Pace.of(NOVEMBER, at(11, 6)).days_left == 20  # a started day counts as one
    assert Pace.of(NOVEMBER, at(1)).fraction == 0
    assert Pace.of(NOVEMBER, dt.datetime(2027, 1, 1, tzinfo=UTC)).days_left == 0  # clamped


def test_pace_refuses_naive_times_and_empty_periods():
    with pytest.raises(ValueError):
        Pace(dt.datetime(2026, 11, 1), at(30), at(2))
    with pytest.raises(ValueError):
        Pace(at(2), at(2), at(2))


def test_linear_projection_is_used_over_elapsed_times_the_length():
    pace = Pace.of(NOVEMBER, at(11))
    assert project_value(D(5200), pace=pace, method=Method.LINEAR) == D(15600)
    # Rounded half-up to the places the usage has: a count stays whole.
    assert project_value(D(1001), pace=pace, method=Method.LINEAR) == D(3003)
    assert project_value(D(7), pace=Pace.of(NOVEMBER, at(8)), method=Method.LINEAR) == D(30)
    assert project_value(D("1.25"), pace=Pace.of(NOVEMBER, at(8)),
                         method=Method.LINEAR) == D("5.36")  # 1.25 × 30 / 7 = 5.357…


def test_held_metrics_and_a_pace_with_no_time_gone_project_what_is_there():
    assert project_value(D(12), pace=Pace.of(NOVEMBER, at(11)), method=Method.HELD) == 12
    assert project_value(D(3), pace=Pace.of(NOVEMBER, at(1)), method=Method.LINEAR) == 3
    assert method_of("sum") == method_of("count") == Method.LINEAR
    assert method_of("max") == method_of("unique_count") == Method.HELD


def test_the_pace_passes_an_allowance_where_its_line_reaches_it():
    pace = Pace.of(NOVEMBER, at(11))  # 10 days gone
    outlook = allowance_outlook(D(2000), D(5000), pace=pace, method=Method.LINEAR)
    assert outlook.crossing == Crossing.AHEAD
    assert outlook.passes_at == at(26)  # 10 days × 5000 / 2000 = day 25 after the start

    assert allowance_outlook(D(1000), D(5000), pace=pace,
                             method=Method.LINEAR).crossing == Crossing.NOT_THIS_PERIOD
    assert allowance_outlook(D(5001), D(5000), pace=pace,
                             method=Method.LINEAR).crossing == Crossing.PASSED
    assert allowance_outlook(D(5000), D(5000), pace=pace,
                             method=Method.LINEAR).passes_at == at(11)  # right now
    assert allowance_outlook(D(10), D(0), pace=pace,
                             method=Method.LINEAR).crossing == Crossing.NO_ALLOWANCE
    assert allowance_outlook(D(0), D(10), pace=pace,
                             method=Method.LINEAR).crossing == Crossing.NOT_THIS_PERIOD
    assert allowance_outlook(D(9), D(10), pace=pace,
                             method=Method.HELD).crossing == Crossing.NOT_THIS_PERIOD


def test_the_day_an_allowance_was_passed_is_where_the_running_total_went_above_it():
    days = [(dt.date(2026, 11, d), D(v)) for d, v in [(1, 40), (2, 60), (3, 1), (4, 50)]]
    assert day_passed(days, D(100)) == dt.date(2026, 11, 3)  # 100 is not above 100
    assert day_passed(days, D(1000)) is None
    assert day_passed(days, D(0)) is None


def test_percent_is_half_up_to_one_place():
    assert percent(D(1), D(3)) == D("33.3")
    assert percent(D(2), D(3)) == D("66.7")
    assert percent(D(5200), D(5000)) == D(104)
    assert percent(D(1), D(0)) is None


def team_terms(**changes) -> Terms:
    tasks = ChargeTerms(key="tasks", metric="tasks", model="per_unit", unit_price=D("0.05"),
                        included_per_seat=D(1000), description="Tasks completed")
    fields = {"currency": "USD", "seat_price": D("40.00"), "base_fee": D(0),
              "charges": (tasks,), "committed_seats": 3, **changes}
    return Terms(**fields)


def test_the_projected_bill_is_the_engine_on_projected_usage_with_the_same_seats():
    seats = [SeatSpan(f"u{i}@acme.test", at(1), None) for i in range(4)]
    pace = Pace.of(NOVEMBER, at(11))
    late = Line(LineKind.LATE_USAGE, "Late usage for October", D("2.50"))

    bill = project_bill(terms=team_terms(), seats=seats, period=NOVEMBER,
                        usage={"tasks": D(2000)}, methods={"tasks": Method.LINEAR},
                        pace=pace, carried=[late])

    # 4 seats × 40 = 160; 6000 tasks projected, 4000 included, 2000 × 0.05 = 100.
    assert bill.usage == {"tasks": D(6000)}
    assert [(line.kind, line.amount) for line in bill.rated.lines] == [
        (LineKind.SEAT, D("160.00")), (LineKind.USAGE, D("100.00"))]
    assert bill.total == D("262.50")
    held = project_bill(terms=team_terms(), seats=seats, period=NOVEMBER,
                        usage={"tasks": D(2000)}, methods={}, pace=pace)
    assert held.usage == {"tasks": D(2000)} and held.total == D("160.00")


def test_a_migration_lists_what_changes_and_nothing_else():
    old = team_terms()
    tiered = ChargeTerms(key="tasks", metric="tasks", model="graduated",
                         tiers=(Tier(D(100), D("0.05")), Tier(None, D("0.04"))),
                         included_per_seat=D(1000), description="Tasks completed")
    tokens = ChargeTerms(key="tokens", metric="tokens", model="per_unit",
                         unit_price=D("0.000002"), description="Tokens")
    new = team_terms(seat_price=D("45"), charges=(tiered, tokens))

    assert terms_changes(old, old) == ()
    assert terms_changes(old, team_terms(seat_price=D("40"))) == ()  # 40.00 is 40
    assert terms_changes(old, new) == (
        TermChange("Seat price", Kind.MONEY, D("40.00"), D("45")),
        TermChange("Tasks completed: pricing", Kind.TEXT, "per_unit", "graduated"),
        TermChange("Tasks completed: price per unit", Kind.MONEY, D("0.05"), None),
        TermChange("Tasks completed: tiers", Kind.TIERS, (), tiered.tiers),
        TermChange("Tokens", Kind.TEXT, None, "added"),
    )
    assert terms_changes(new, old)[-1] == TermChange("Tokens", Kind.TEXT, "charged", None)
