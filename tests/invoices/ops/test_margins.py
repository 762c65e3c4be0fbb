"""The margin arithmetic, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from invoices.ops.margins import (
    Customer,
    CustomerMargin,
    Month,
    allowance_share,
    margin_rows,
    over_allowance,
    percent,
    recent_months,
    recognized,
    seat_tail,
    shares,
    sort_rows,
    totals,
)


def row(name: str, revenue: str, cost: str, currency: str = "USD") -> CustomerMargin:
    return CustomerMargin(Customer(hash(name) % 1000, name, name.title(), currency),
                          D(revenue), D(cost))


def test_margin_is_revenue_minus_cost_and_percent_of_revenue():
    r = row("acme", "200.00", "50.123456789")
    assert r.margin == D("149.876543211")
    assert r.margin_shown == D("149.88")
    assert r.cost_shown == D("50.12")
    assert r.margin_percent == D("74.9")
    assert not r.losing


def test_costing_more_than_revenue_is_losing_with_a_negative_percent():
    r = row("heavy", "40.00", "95.5")
    assert r.losing and r.margin == D("-55.50") and r.margin_percent == D("-138.8")


def test_no_revenue_has_no_percent_but_loses_money_when_it_costs():
    r = row("free", "0", "3")
    assert r.margin_percent is None and r.losing


def test_another_currency_has_no_margin_and_stays_out_of_the_totals():
    eur = row("eu", "100.00", "10", currency="EUR")
    usd = row("us", "100.00", "30")
    assert eur.margin is None and eur.margin_percent is None and not eur.losing
    t = totals([eur, usd])
    assert (t.revenue, t.cost, t.cost_all, t.not_comparable) == (D("100.00"), D(30), D(40), 1)
    assert t.margin == D("70.00") and t.margin_percent == D("70.0")


def test_losing_rows_come_first_whatever_the_sort():
    rows = [row("a", "100", "10"), row("b", "10", "20"), row("c", "50", "5"),
            row("d", "10", "80")]
    by_revenue = sort_rows(rows, "revenue", descending=True)
    assert [r.customer.external_id for r in by_revenue] == ["b", "d", "a", "c"]
    by_margin = sort_rows(rows, "margin")
    assert [r.customer.external_id for r in by_margin] == ["d", "b", "c", "a"]
    assert [r.customer.external_id for r in sort_rows(rows, "customer")] == ["b", "d", "a", "c"]
    assert sort_rows(rows, "nonsense") == by_margin


def test_rows_without_a_value_for_the_sort_go_last():
    rows = [row("eu", "10", "1", currency="EUR"), row("us", "10", "1")]
    assert [r.customer.external_id for r in sort_rows(rows, "margin", True)] == ["us", "eu"]


def test_margin_rows_cover_customers_with_revenue_or_cost():
    customers = {1: Customer(1, "a", "A", "USD"), 2: Customer(2, "b", "B", "USD"),
                 3: Customer(3, "c", "C", "USD")}
    rows = margin_rows(customers=customers, revenue={1: D(10)}, cost={2: D(5), 9: D(1)},
                       estimated=True)
    assert [(r.customer.customer_id, r.revenue, r.cost, r.estimated) for r in rows] == [
        (1, D(10), D(0), True), (2, D(0), D(5), True)]


def test_percent_rounds_half_up_to_one_place_and_is_none_of_zero():
    assert percent(1, 3) == D("33.3") and percent(2, 3) == D("66.7")
    assert percent(1, 0) is None


def test_seat_tail_sorts_seats_and_measures_the_heavy_tail():
    costs = {f"s{i}@x": D(1) for i in range(9)} | {"whale@x": D(91)}
    tail = seat_tail(costs)
    assert tail.seats[0] == ("whale@x", D(91)) and tail.total == D(100)
    assert tail.top_decile_share == D("91.0")
    assert tail.median == D(1) and tail.max_to_median == D("91.0")
    assert seat_tail({}).top_decile_share is None and seat_tail({}).max_to_median is None


def test_shares_of_agent_and_user_cost():
    assert shares({"agent": D(3), "user": D(1)}) == {"agent": D("75.0"), "user": D("25.0")}
    assert shares({"agent": D(0)}) == {"agent": None}


def test_over_allowance_only_for_hybrid_invoices():
    seat, usage = ("seat", None, None), ("usage", D(1000), D(0))
    assert over_allowance([seat, usage]) is False
    assert over_allowance([seat, ("usage", D(1000), D(5))]) is True
    assert over_allowance([("usage", D(1000), D(5))]) is None  # no seat fee: not hybrid
    assert over_allowance([seat, ("usage", D(0), D(5))]) is None  # no allowance
    share = allowance_share([True, False, False, True])
    assert (share.over, share.hybrid, share.percent) == (2, 4, D("50.0"))
    assert allowance_share([]).percent is None


def test_months_parse_step_and_pick():
    m = Month.parse("2026-01")
    assert m == Month(2026, 1) and m.previous() == Month(2025, 12) and m.next() == Month(2026, 2)
    assert Month(2026, 12).next() == Month(2027, 1)
    assert m.start == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert m.end == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    for bad in ("2026-13", "26-01", "", None, "2026-1", "9999-01"):
        assert Month.parse(bad) is None
    assert Month(2026, 12).is_open(dt.date(2026, 12, 2))
    picker = recent_months(dt.date(2026, 2, 10), 3)
    assert picker == [Month(2026, 2), Month(2026, 1), Month(2025, 12)]
    assert str(m) == "2026-01" and m.label == "January 2026"


def test_revenue_is_recognized_over_the_days_of_its_period():
    october = Month(2026, 10)
    utc = dt.UTC

    def moment(y, m, d):
        return dt.datetime(y, m, d, tzinfo=utc)

    assert recognized(D("100"), moment(2026, 10, 1), moment(2026, 11, 1), october) == D("100")
    year = recognized(D("365"), moment(2026, 1, 1), moment(2027, 1, 1), october)
    assert year == D(31)  # October's 31 days of a 365-day year
    # Anchored on the 16th: 16 of the period's 31 days fall in October.
    split = recognized(D("31"), moment(2026, 10, 16), moment(2026, 11, 16), october)
    assert split == D(16)
    assert recognized(D("50"), moment(2026, 11, 1), moment(2026, 12, 1), october) == D(0)
