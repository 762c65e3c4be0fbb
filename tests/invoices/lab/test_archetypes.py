"""Archetypes over a hand-computable book (tests/invoices/lab/pricing_book.py): the
customer-periods, their percentiles, and what light/median/heavy/tail users pay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.lab.archetypes import (
    CANDIDATE,
    CURRENT,
    SEAT_ONLY,
    Profile,
    histogram,
    one_seat_bill,
    seat_only_terms,
)
from invoices.lab.customer_periods import customer_periods
from invoices.lab.pricing import Percentiles, distribution
from invoices.lab.pricing_selectors import archetype_report
from invoices.rating import ChargeTerms, Terms
from plans.periods import Period
from tests.invoices.lab.pricing_book import AS_OF, build_book

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def test_a_one_seat_bill_is_what_the_engine_bills_one_seat_with_the_profiles_usage():
    terms = Terms(currency="USD", seat_price=D("20.00"), base_fee=D("5.00"), charges=(
        ChargeTerms(key="tasks", metric="tasks", model="per_unit", unit_price=D("0.05"),
                    included_per_seat=D(100)),))
    profile = Profile("heavy", 80, D("26"), {"tasks": D("260")})
    bill = one_seat_bill(terms, profile, OCTOBER)
    # 20.00 seat + 5.00 base fee + (260 − 100) × 0.05 = 33.00; margin 33 − 26 = 7.00
    assert (bill.total, bill.margin, bill.margin_percent) == (D("33.00"), D("7.00"), D("21.2"))
    seat_only = one_seat_bill(seat_only_terms(seat_price=D("86.67"), currency="USD"),
                              profile, OCTOBER)
    assert (seat_only.total, seat_only.margin) == (D("86.67"), D("60.67"))


def test_the_histogram_bins_per_seat_costs_from_zero_to_the_largest():
    bins = histogram([D(1), D(5), D(10), D(20), D(50)], bins=5)
    assert [(b.low, b.high, b.count) for b in bins] == [
        (D(0), D(10), 3), (D(10), D(20), 1), (D(20), D(30), 0), (D(30), D(40), 0),
        (D(40), D(50), 1)]
    assert histogram([]) == []


@pytest.mark.django_db
def test_the_customer_periods_are_each_customers_ended_periods_on_the_plan():
    plan, v1, _v2 = build_book()
    book = customer_periods(plan=plan, periods=3, now=AS_OF)
    rows = {p.customer: p for p in book.sample.periods}
    # The outsider is on another plan, the newcomer's first period has not ended, and
    # "zero" has no billed seat: left out of the figures, counted.
    assert sorted(rows) == ["a", "b", "c", "d", "e"]
    assert book.sample.zero_seat_periods == 1
    assert {p.period for p in rows.values()} == {OCTOBER}
    assert {p.version_id for p in rows.values()} == {v1.pk}
    assert {name: p.billed_seats for name, p in rows.items()} == {
        "a": D(1), "b": D(2), "c": D(1), "d": D(4), "e": D(1)}  # d: 3 seats, 4 committed
    assert {name: p.provider_cost for name, p in rows.items()} == {
        "a": D("1.00"), "b": D("10.00"), "c": D("10.00"), "d": D("80.00"), "e": D("50.00")}
    assert {name: p.usage["tasks"] for name, p in rows.items()} == {
        "a": D(10), "b": D(100), "c": D(100), "d": D(800), "e": D(500)}
    assert book.currency == "USD" and book.latest_period == OCTOBER


@pytest.mark.django_db
def test_the_percentiles_of_per_seat_cost_and_usage():
    plan, _v1, _v2 = build_book()
    found = distribution(customer_periods(plan=plan, periods=1, now=AS_OF).sample)
    assert found.customer_periods == 5
    assert found.zero_seat_periods == 1
    assert found.seat_cost == Percentiles(D("4.2"), D(10), D(26), D(44))
    assert found.seat_usage["tasks"] == Percentiles(D(42), D(100), D(260), D(440))


@pytest.mark.django_db
def test_each_archetype_is_priced_seat_only_on_the_current_version_and_the_candidate():
    plan, v1, v2 = build_book()
    report = archetype_report(plan=plan, periods=1, now=AS_OF, candidate=v2)
    assert report.current == v1 and report.period == OCTOBER
    bills = {a.profile.name: {kind: (b.total, b.margin) for kind, b in a.bills.items()}
             for a in report.archetypes}
    # Seat-only at 26 / 0.3 = 86.67; v1 30.00 a seat; v2 20.00 + 0.05 above 100 tasks.
    assert bills == {
        "light": {SEAT_ONLY: (D("86.67"), D("82.47")), CURRENT: (D("30.00"), D("25.80")),
                  CANDIDATE: (D("20.00"), D("15.80"))},
        "median": {SEAT_ONLY: (D("86.67"), D("76.67")), CURRENT: (D("30.00"), D("20.00")),
                   CANDIDATE: (D("20.00"), D("10.00"))},
        "heavy": {SEAT_ONLY: (D("86.67"), D("60.67")), CURRENT: (D("30.00"), D("4.00")),
                  CANDIDATE: (D("28.00"), D("2.00"))},
        "tail": {SEAT_ONLY: (D("86.67"), D("42.67")), CURRENT: (D("30.00"), D("-14.00")),
                 CANDIDATE: (D("37.00"), D("-7.00"))},
    }
    assert [a.profile.seat_usage["tasks"] for a in report.archetypes] == [
        D(42), D(100), D(260), D(440)]
    assert sum(b.count for b in report.chart) == 5


@pytest.mark.django_db
def test_a_plan_without_ended_periods_has_no_archetypes():
    plan, _v1, _v2 = build_book()
    report = archetype_report(plan=plan, periods=1, now=dt.datetime(2026, 10, 15, tzinfo=dt.UTC))
    assert report.distribution.customer_periods == 0
    assert report.recommendation is None and report.archetypes == []
