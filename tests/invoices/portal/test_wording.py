"""Invoice lines in words: money with its symbol and minor unit, quantities without padding,
periods as the days they cover (pure, no database)."""

import datetime as dt

import pytest

from invoices.portal import wording


@pytest.mark.parametrize(("value", "currency", "text"), [
    ("40", "USD", "$40.00"),
    ("1234.5", "EUR", "€1,234.50"),
    ("-50", "USD", "−$50.00"),
    ("4000", "JPY", "¥4,000"),
    ("1234.5", "CHF", "1,234.50 CHF"),
    ("1.234", "KWD", "1.234 KWD"),
    ("0.000002", "USD", "$0.000002"),
])
def test_money_reads_in_the_currencys_minor_unit(value, currency, text):
    assert wording.money(value, currency) == text


@pytest.mark.parametrize(("value", "text"), [
    ("5.000000", "5"), ("1200.0000000000", "1,200"), ("4.322581", "4.322581"),
    ("1234567.50", "1,234,567.5"), ("-3", "−3"), ("0", "0"),
])
def test_quantities_drop_trailing_zeros_and_group_thousands(value, text):
    assert wording.quantity(value) == text


def test_periods_name_their_first_and_last_day():
    assert wording.period(dt.date(2026, 11, 1), dt.date(2026, 12, 1)) == "1 Nov – 30 Nov 2026"
    assert wording.period(dt.date(2026, 12, 15), dt.date(2027, 1, 15)) == "15 Dec 2026 – 14 Jan 2027"
    assert wording.period(dt.date(2026, 11, 1), dt.date(2026, 11, 2)) == "1 Nov 2026"


def _line(kind, amount, **fields):
    return {"kind": kind, "amount": amount, "description": fields.pop("description", kind),
            "quantity": None, "unit_price": None, "metric": None, "value": None,
            "included": None, "billable": None, "tiers": [], "period_start": None,
            "period_end": None, **fields}


NAMES = {"tasks": "Tasks completed", "calls": "AI calls"}


def test_seat_and_per_unit_lines_show_their_multiplication():
    seat = _line("seat", "200.00", quantity="5.000000", unit_price="40.00")
    usage = _line("usage", "4.00", metric="tasks", quantity="200", unit_price="0.02",
                  value="1200", included="1000", billable="200",
                  description="Tasks completed: 1200 used, 1000 included, 200 billable")
    words = wording.line_words([seat, usage], currency="USD", metric_names=NAMES)

    assert words[0].arithmetic == "5 seats × $40.00 = $200.00"
    assert words[1].title == "Tasks completed"
    assert words[1].arithmetic == "200 tasks completed over the 1,000 included (1,200 used) × $0.02 = $4.00"
    assert [w.has_events for w in words] == [False, True]


def test_committed_seats_above_use_say_so():
    seat = _line("seat", "120.00", quantity="3", unit_price="40.00")
    (words,) = wording.line_words([seat], currency="USD", metric_names={},
                                  seat_equivalents="2.5")
    assert words.arithmetic == "3 seats × $40.00 = $120.00 (your committed minimum; 2.5 seats used)"


def test_usage_within_the_allowance_costs_nothing_and_says_why():
    usage = _line("usage", "0.00", metric="calls", quantity="0", unit_price="0.01",
                  value="800", included="1000", billable="0")
    (words,) = wording.line_words([usage], currency="USD", metric_names=NAMES)
    assert words.arithmetic == "800 AI calls used, within the 1,000 included = $0.00"


def test_packages_and_tiers_show_each_step():
    package = _line("usage", "10.00", metric="calls", quantity="2", unit_price="5.00",
                    value="1150", included="1000", billable="150")
    tiered = _line("usage", "21.00", metric="tasks", value="3000", included="0",
                   billable="3000", quantity="3000", tiers=[
                       {"up_to": "1000", "units": "1000", "unit_price": "0.01",
                        "flat_fee": "1.00", "amount": "11.00"},
                       {"up_to": None, "units": "2000", "unit_price": "0.005",
                        "flat_fee": "0.00", "amount": "10.00"}])
    package_words, tier_words = wording.line_words([package, tiered], currency="USD",
                                                   metric_names=NAMES)
    assert package_words.arithmetic == (
        "150 AI calls over the 1,000 included (1,150 used) = 2 packages × $5.00 = $10.00")
    assert tier_words.steps == (
        "1,000 tasks completed (up to 1,000) × $0.01 + $1.00 flat = $11.00",
        "2,000 tasks completed (beyond) × $0.005 = $10.00",
    )


def test_cap_discount_and_minimum_are_worded_from_the_lines_before_them():
    lines = [
        _line("seat", "100.00", quantity="2.5", unit_price="40.00"),
        _line("usage", "80.00", metric="tasks", quantity="1600", unit_price="0.05",
              value="1600", included="0", billable="1600"),
        _line("overage_cap", "-30.00"),
        _line("discount", "-15.00", description="Discount 10% on 150.00"),
        _line("minimum_commitment", "65.00"),
    ]
    words = wording.line_words(lines, currency="USD", metric_names=NAMES)
    assert words[2].arithmetic == ("Usage charges of $80.00 are capped at $50.00: "
                                   "$80.00 − $50.00 = $30.00 off, so −$30.00")
    assert words[3].arithmetic == "10% off $150.00 = −$15.00"
    assert words[4].arithmetic == ("The minimum commitment is $200.00 and the lines above come "
                                   "to $135.00: $200.00 − $135.00 = $65.00")


def test_late_usage_names_its_period():
    late = _line("late_usage", "2.50", metric="tasks", quantity="50", value="50",
                 billable="50", period_start="2026-10-01", period_end="2026-11-01")
    (words,) = wording.line_words([late], currency="USD", metric_names=NAMES)
    assert words.title == "Late usage for 1 Oct – 31 Oct 2026"
    assert "50 tasks completed arrived after that period was invoiced" in words.arithmetic
    assert words.has_events
