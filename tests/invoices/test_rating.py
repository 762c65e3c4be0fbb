"""Rules of SPEC section 2 (rating one period) and section 4 (late usage), one per test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.rating import (
    ChargeTerms,
    Overrides,
    SeatSpan,
    Terms,
    Tier,
    apply_overrides,
    late_usage_lines,
    price_charge,
    rate_period,
    round_money,
    seat_equivalents,
    to_minor_units,
)
from plans.periods import Period

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
UTC = dt.UTC


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def seat(email: str, start: dt.datetime, until: dt.datetime | None = None) -> SeatSpan:
    return SeatSpan(email, start, until)


def worked_example_terms(**changes) -> Terms:
    tasks = ChargeTerms(
        "tasks", "tasks", "per_unit", unit_price=D("0.05"), included_per_seat=D(1000)
    )
    values = dict(
        currency="USD",
        seat_price=D("40.00"),
        base_fee=D(0),
        charges=(tasks,),
        committed_seats=3,
    )
    values.update(changes)
    return Terms(**values)


WORKED_SEATS = [seat(f"user{i}@acme.test", at(1, month=9)) for i in range(4)] + [
    seat("fifth@acme.test", at(22))
]


def usage_only(*charges: ChargeTerms, currency: str = "USD", **changes) -> Terms:
    values = dict(currency=currency, seat_price=D(0), base_fee=D(0), charges=charges)
    values.update(changes)
    return Terms(**values)


def rate(terms: Terms, usage: dict[str, D], seats=(), period: Period = OCTOBER):
    return rate_period(terms=terms, seats=list(seats), usage=usage, period=period)


def lines_of(rated, kind: str):
    return [line for line in rated.lines if line.kind == kind]


GRADUATED = ChargeTerms(
    "tokens",
    "tokens",
    "graduated",
    tiers=(
        Tier(D(100), D("1.00"), D("5.00")),
        Tier(D(200), D("0.50"), D("2.00")),
        Tier(None, D("0.10")),
    ),
)
VOLUME = ChargeTerms(
    "calls",
    "calls",
    "volume",
    tiers=(
        Tier(D(100), D("1.00"), D("5.00")),
        Tier(D(200), D("0.50"), D("2.00")),
        Tier(None, D("0.10")),
    ),
)


# --- worked example -------------------------------------------------------------------


def test_worked_example_bills_exactly_as_the_spec_says():
    rated = rate(worked_example_terms(), {"tasks": D(5200)}, WORKED_SEATS)

    assert rated.seat_equivalents == D("4.322581")
    assert rated.billed_seats == D("4.322581")
    seat_line, tasks_line = rated.lines
    assert (seat_line.kind, seat_line.amount) == ("seat", D("172.90"))
    assert str(seat_line.quantity) == "4.322581"
    assert seat_line.description == "Seats: 4.322581 × 40.00"
    assert (tasks_line.value, tasks_line.included, tasks_line.billable) == (5200, 4322, 878)
    assert str(tasks_line.amount) == "43.90"
    assert tasks_line.description == "tasks: 5200 used, 4322 included, 878 billable × 0.05"
    assert str(rated.total) == "216.80"


def test_committed_seats_are_billed_when_fewer_are_used():
    rated = rate(worked_example_terms(committed_seats=6), {"tasks": D(0)}, WORKED_SEATS)

    assert rated.seat_equivalents == D("4.322581")
    assert rated.billed_seats == 6
    assert lines_of(rated, "seat")[0].amount == D("240.00")
    assert lines_of(rated, "usage")[0].included == 6000
    assert lines_of(rated, "seat")[0].description == (
        "Seats: 6 × 40.00 (committed 6, used 4.322581)")


def test_a_whole_seat_count_reads_without_padding_in_the_description():
    full_month = [seat(f"user{i}@acme.test", at(1, month=9)) for i in range(5)]
    rated = rate(worked_example_terms(), {"tasks": D(0)}, full_month)

    assert str(rated.billed_seats) == "5.000000"  # the column's six places, kept
    assert lines_of(rated, "seat")[0].description == "Seats: 5 × 40.00"


def test_seat_and_base_fee_lines_are_left_out_when_zero():
    rated = rate(usage_only(ChargeTerms("a", "a", "per_unit", unit_price=D(1))), {"a": D(2)})

    assert [line.kind for line in rated.lines] == ["usage"]


def test_base_fee_is_billed_whole_not_prorated():
    terms = usage_only(base_fee=D("99.00"))
    rated = rate(terms, {}, period=Period(dt.date(2026, 10, 1), dt.date(2026, 10, 2)))

    assert [(line.kind, line.amount) for line in rated.lines] == [("base_fee", D("99.00"))]


# --- seats ------------------------------------------------------------------------------


def test_seat_starting_mid_day_counts_that_whole_day():
    spans = [seat("a@x", at(31, 23, 59))]

    assert seat_equivalents(spans, OCTOBER) == D("0.032258")  # 1/31


def test_seat_ending_exactly_at_midnight_does_not_count_the_next_day():
    spans = [seat("a@x", at(1), at(11))]

    assert seat_equivalents(spans, OCTOBER) == round(D(10) / 31, 6)


def test_seat_ending_just_after_midnight_counts_that_day():
    spans = [seat("a@x", at(1), at(11, 0, 1))]

    assert seat_equivalents(spans, OCTOBER) == round(D(11) / 31, 6)


def test_overlapping_spans_of_one_email_count_each_day_once():
    spans = [
        seat("a@x", at(1), at(11, 12)),
        seat("a@x", at(11, 18), at(21)),
        seat("A@X", at(5), at(8)),
    ]

    assert seat_equivalents(spans, OCTOBER) == round(D(20) / 31, 6)


def test_seats_outside_the_period_are_clipped_to_it():
    spans = [seat("a@x", at(1, month=9), at(1, 1, month=11)), seat("b@x", at(1, month=11))]

    assert seat_equivalents(spans, OCTOBER) == D("1.000000")


def test_seat_times_in_other_zones_count_by_utc_day():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    # 01:00 on Nov 1 at +02:00 is still Oct 31 in UTC.
    spans = [seat("a@x", dt.datetime(2026, 11, 1, 1, tzinfo=plus_two))]

    assert seat_equivalents(spans, OCTOBER) == D("0.032258")


def test_seat_with_an_empty_span_is_never_billed():
    spans = [seat("a@x", at(5, 10), at(5, 10))]

    assert seat_equivalents(spans, OCTOBER) == 0


def test_naive_seat_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        seat_equivalents([seat("a@x", dt.datetime(2026, 10, 1))], OCTOBER)


def test_seat_equivalents_round_half_up_at_six_places():
    # 1 seat-day over 128 days is exactly 0.0078125: a true tie at the 7th place,
    # which banker's rounding would send down to 0.007812.
    period = Period(dt.date(2026, 1, 1), dt.date(2026, 1, 1) + dt.timedelta(days=128))
    spans = [seat("a@x", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 2, tzinfo=UTC))]

    assert seat_equivalents(spans, period) == D("0.007813")


# --- charge models ----------------------------------------------------------------------


def test_per_unit_prices_each_billable_unit():
    priced = price_charge(ChargeTerms("a", "a", "per_unit", unit_price=D("0.0001")), D(12345))

    assert priced.amount == D("1.2345")
    assert priced.tiers == ()


def test_package_rounds_a_partial_package_up():
    docs = ChargeTerms("docs", "docs", "package", package_size=100, package_price=D("5.00"))

    assert price_charge(docs, D(200)).amount == D("10.00")
    assert price_charge(docs, D(201)).amount == D("15.00")
    assert price_charge(docs, D(1)).amount == D("5.00")
    assert price_charge(docs, D("0.5")).quantity == 1


def test_graduated_prices_units_in_each_tier_and_adds_reached_flat_fees():
    priced = price_charge(GRADUATED, D(250))

    # 100×1.00 + 5 flat, 100×0.50 + 2 flat, 50×0.10
    assert priced.amount == D("162.00")
    assert [(t.up_to, t.units, t.amount) for t in priced.tiers] == [
        (D(100), D(100), D("105.00")),
        (D(200), D(100), D("52.00")),
        (None, D(50), D("5.00")),
    ]


def test_graduated_tier_bound_is_inclusive_so_next_flat_fee_waits_for_the_next_unit():
    assert price_charge(GRADUATED, D(100)).amount == D("105.00")
    assert len(price_charge(GRADUATED, D(100)).tiers) == 1
    assert price_charge(GRADUATED, D(101)).amount == D("107.50")


def test_volume_prices_every_unit_at_the_reached_tier():
    priced = price_charge(VOLUME, D(250))

    assert priced.amount == D("25.00")
    assert [(t.units, t.unit_price) for t in priced.tiers] == [(D(250), D("0.10"))]


def test_volume_boundary_unit_stays_in_the_lower_tier():
    assert price_charge(VOLUME, D(100)).amount == D("105.00")
    assert price_charge(VOLUME, D(101)).amount == D("52.50")
    assert price_charge(VOLUME, D(200)).amount == D("102.00")
    assert price_charge(VOLUME, D(201)).amount == D("20.10")


@pytest.mark.parametrize(
    "charge",
    [
        ChargeTerms("a", "a", "per_unit", unit_price=D(1)),
        ChargeTerms("a", "a", "package", package_size=10, package_price=D(3)),
        GRADUATED,
        VOLUME,
    ],
    ids=lambda c: c.model,
)
def test_zero_billable_units_cost_nothing_in_every_model(charge):
    priced = price_charge(charge, D(0))

    assert priced.amount == 0
    assert priced.tiers == ()


def test_usage_line_records_the_tier_breakdown():
    rated = rate(usage_only(GRADUATED), {"tokens": D(250)})

    line = lines_of(rated, "usage")[0]
    assert line.amount == D("162.00")
    assert len(line.tiers) == 3
    assert line.metric == "tokens"


@pytest.mark.parametrize(
    "model_fields",
    [
        dict(model="bogus"),
        dict(model="per_unit"),
        dict(model="package", package_size=0, package_price=D(1)),
        dict(model="graduated"),
        dict(model="volume", tiers=(Tier(D(10), D(1)),)),
        dict(model="graduated", tiers=(Tier(D(10), D(1)), Tier(D(5), D(1)), Tier(None, D(1)))),
    ],
)
def test_malformed_charges_are_refused(model_fields):
    with pytest.raises(ValueError):
        ChargeTerms("a", "a", **model_fields)


# --- allowances and overrides ------------------------------------------------------------


def test_allowance_adds_included_units_to_floored_per_seat_allowance():
    charge = ChargeTerms(
        "a", "a", "per_unit", unit_price=D(1), included_units=D(10), included_per_seat=D("2.5")
    )
    seats = [seat("a@x", at(1)), seat("b@x", at(1)), seat("c@x", at(17))]  # 2.483871 seats
    rated = rate(usage_only(charge), {"a": D(20)}, seats)

    line = lines_of(rated, "usage")[0]
    assert line.included == D(16)  # floor(2.5 × 2.483871) = 6, + 10
    assert line.billable == D(4)
    assert line.amount == D("4.00")


def test_usage_below_allowance_is_not_billed_negative():
    rated = rate(worked_example_terms(), {"tasks": D(10)}, WORKED_SEATS)

    assert lines_of(rated, "usage")[0].billable == 0
    assert lines_of(rated, "usage")[0].amount == 0


def test_overrides_that_are_set_win_over_the_version():
    version = worked_example_terms(
        charges=(
            ChargeTerms("a", "a", "per_unit", unit_price=D(1), included_per_seat=D(100)),
            ChargeTerms("b", "b", "per_unit", unit_price=D(1)),
        ),
        overage_cap=D(500),
    )
    terms = apply_overrides(
        version,
        Overrides(
            seat_price=D("35.00"),
            included_per_seat=D(2000),
            discount_percent=D(10),
            committed_seats=5,
        ),
    )

    assert terms.seat_price == D("35.00")
    assert terms.committed_seats == 5
    assert terms.discount_percent == D(10)
    assert terms.base_fee == version.base_fee
    assert terms.overage_cap == D(500)
    assert [c.included_per_seat for c in terms.charges] == [D(2000), None]


def test_no_overrides_leave_the_version_unchanged():
    version = worked_example_terms()

    assert apply_overrides(version, Overrides()) == version


# --- cap, discount, minimum --------------------------------------------------------------


def test_overage_cap_brings_usage_lines_down_to_the_cap():
    terms = usage_only(
        ChargeTerms("a", "a", "per_unit", unit_price=D("1.00")),
        ChargeTerms("b", "b", "per_unit", unit_price=D("2.00")),
        overage_cap=D("100.00"),
    )
    rated = rate(terms, {"a": D(60), "b": D(30)})

    cap = lines_of(rated, "overage_cap")
    assert [line.amount for line in cap] == [D("-20.00")]
    assert rated.total == D("100.00")


def test_overage_cap_adds_nothing_when_usage_is_under_it():
    terms = usage_only(ChargeTerms("a", "a", "per_unit", unit_price=D(1)), overage_cap=D(100))

    assert lines_of(rate(terms, {"a": D(100)}), "overage_cap") == []


def test_overage_cap_does_not_touch_seats_or_base_fee():
    terms = worked_example_terms(base_fee=D("10.00"), overage_cap=D("5.00"))
    rated = rate(terms, {"tasks": D(5200)}, WORKED_SEATS)

    assert lines_of(rated, "overage_cap")[0].amount == D("-38.90")
    assert rated.total == D("172.90") + D("10.00") + D("5.00")


def test_discount_is_one_negative_line_on_the_subtotal_after_the_cap():
    terms = worked_example_terms(discount_percent=D("12.5"), overage_cap=D("40.00"))
    rated = rate(terms, {"tasks": D(5200)}, WORKED_SEATS)

    # subtotal 172.90 + 43.90 - 3.90 = 212.90; 12.5% = 26.6125 -> 26.61
    assert [line.amount for line in lines_of(rated, "discount")] == [D("-26.61")]
    assert rated.total == D("186.29")


def test_minimum_commitment_trues_up_the_discounted_total():
    terms = worked_example_terms(discount_percent=D(50), minimum_commitment=D("150.00"))
    rated = rate(terms, {"tasks": D(5200)}, WORKED_SEATS)

    # 216.80 - 108.40 = 108.40, trued up by 41.60
    assert [line.amount for line in lines_of(rated, "minimum_commitment")] == [D("41.60")]
    assert rated.total == D("150.00")


def test_minimum_commitment_adds_nothing_when_already_met():
    terms = worked_example_terms(minimum_commitment=D("216.80"))

    assert lines_of(rate(terms, {"tasks": D(5200)}, WORKED_SEATS), "minimum_commitment") == []


def test_lines_come_in_spec_order():
    terms = worked_example_terms(
        base_fee=D(1), overage_cap=D(1), discount_percent=D(90), minimum_commitment=D(1000)
    )
    rated = rate(terms, {"tasks": D(5200)}, WORKED_SEATS)

    assert [line.kind for line in rated.lines] == [
        "seat",
        "base_fee",
        "usage",
        "overage_cap",
        "discount",
        "minimum_commitment",
    ]


# --- money ------------------------------------------------------------------------------


def test_money_rounds_half_up_and_symmetric_for_negatives():
    assert round_money(D("0.125"), "USD") == D("0.13")
    assert round_money(D("0.135"), "USD") == D("0.14")  # not banker's rounding
    assert round_money(D("-0.125"), "USD") == D("-0.13")
    assert round_money(D("0.1249999"), "USD") == D("0.12")
    assert str(round_money(D("-0.001"), "USD")) == "0.00"


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        round_money(0.1, "USD")


def test_yen_lines_have_no_decimals():
    terms = usage_only(ChargeTerms("a", "a", "per_unit", unit_price=D("2.5")), currency="JPY")
    rated = rate(terms, {"a": D(3)})

    assert str(rated.lines[0].amount) == "8"  # 7.5 half-up
    assert str(rated.total) == "8"
    assert to_minor_units(rated.total, "JPY") == 8


def test_three_decimal_currency_keeps_three_places():
    terms = usage_only(ChargeTerms("a", "a", "per_unit", unit_price=D("0.0125")), currency="KWD")
    rated = rate(terms, {"a": D(3)})

    assert str(rated.total) == "0.038"  # 0.0375 half-up
    assert to_minor_units(rated.total, "KWD") == 38


def test_minor_units_for_stripe_are_integers():
    assert to_minor_units(D("216.80"), "USD") == 21680
    assert to_minor_units(D("-0.005"), "EUR") == -1


def test_total_is_the_sum_of_rounded_lines_not_the_rounded_sum():
    terms = Terms(
        currency="USD",
        seat_price=D("0.005"),
        base_fee=D(0),
        committed_seats=1,
        charges=(ChargeTerms("a", "a", "per_unit", unit_price=D("0.005")),),
    )
    rated = rate(terms, {"a": D(1)})

    # each 0.005 line rounds to 0.01: 0.02, where the unrounded sum 0.01 would differ
    assert rated.total == D("0.02")


# --- late usage -------------------------------------------------------------------------


def test_late_usage_adds_one_line_per_changed_charge():
    terms = worked_example_terms(
        charges=(
            worked_example_terms().charges[0],
            ChargeTerms("docs", "docs", "package", package_size=100, package_price=D("5.00")),
        )
    )
    lines = late_usage_lines(
        terms=terms,
        seats=WORKED_SEATS,
        period=OCTOBER,
        usage_before={"tasks": D(5200), "docs": D(50)},
        usage_after={"tasks": D(5300), "docs": D(60)},
    )

    (line,) = lines
    assert line.kind == "late_usage"
    assert line.metric == "tasks"
    assert line.amount == D("5.00")
    assert line.value == D(100)
    assert line.description.startswith("Late usage for 2026-10-01 to 2026-10-31: tasks")
    assert (line.period_start, line.period_end) == (OCTOBER.start, OCTOBER.end)


def test_late_usage_swallowed_by_the_cap_adds_no_lines():
    terms = worked_example_terms(overage_cap=D("10.00"))
    lines = late_usage_lines(
        terms=terms,
        seats=WORKED_SEATS,
        period=OCTOBER,
        usage_before={"tasks": D(5200)},
        usage_after={"tasks": D(9000)},
    )

    assert lines == ()


def test_late_usage_adjusts_for_discount_so_lines_match_the_total_difference():
    terms = worked_example_terms(discount_percent=D(10))
    before = {"tasks": D(5200)}
    after = {"tasks": D(5300)}
    lines = late_usage_lines(
        terms=terms, seats=WORKED_SEATS, period=OCTOBER, usage_before=before, usage_after=after
    )

    assert [line.amount for line in lines] == [D("5.00"), D("-0.50")]
    difference = rate(terms, after, WORKED_SEATS).total - rate(terms, before, WORKED_SEATS).total
    assert sum(line.amount for line in lines) == difference
