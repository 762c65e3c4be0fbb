"""The crossing decision, pure (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from invoices.alerts.rules import (
    Allowance,
    Kind,
    PeriodStatus,
    Threshold,
    crossings,
    effective_thresholds,
    key_of,
)

START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def status(*allowances: Allowance, bill: str = "0", projected: str | None = None) -> PeriodStatus:
    return PeriodStatus(currency="USD", period_start=START, period_end=END,
                        allowances=allowances, bill_so_far=D(bill),
                        projected_bill=D(projected) if projected is not None else None)


def tasks(used: str, included: str = "1000") -> Allowance:
    return Allowance("tasks", "tasks", "Tasks completed", D(used), D(included))


def keys(found) -> list[str]:
    return [c.key for c in found]


def test_without_usage_thresholds_of_its_own_a_customer_gets_80_and_100_percent():
    assert effective_thresholds([]) == (
        Threshold(Kind.USAGE_PERCENT, D(80)), Threshold(Kind.USAGE_PERCENT, D(100)))
    spend = Threshold(Kind.SPEND, D(500))
    assert effective_thresholds([spend]) == (
        Threshold(Kind.USAGE_PERCENT, D(80)), Threshold(Kind.USAGE_PERCENT, D(100)), spend)


def test_own_usage_thresholds_replace_the_defaults():
    own = [Threshold(Kind.USAGE_PERCENT, D(50)), Threshold(Kind.USAGE_PERCENT, D(90))]
    assert effective_thresholds(own) == tuple(own)


def test_a_usage_threshold_is_crossed_when_reached_not_only_when_passed():
    rules = effective_thresholds([])
    assert keys(crossings(rules, status(tasks("799")))) == []
    assert keys(crossings(rules, status(tasks("800")))) == ["usage:tasks:80"]
    assert keys(crossings(rules, status(tasks("999.99")))) == ["usage:tasks:80"]
    assert keys(crossings(rules, status(tasks("1000")))) == ["usage:tasks:80", "usage:tasks:100"]
    assert keys(crossings(rules, status(tasks("5200")))) == ["usage:tasks:80", "usage:tasks:100"]


def test_each_allowance_is_judged_on_its_own_and_charges_without_one_never_alert():
    rules = effective_thresholds([])
    found = crossings(rules, status(
        tasks("850"), Allowance("tokens", "tokens", "Tokens", D("2000000"), D("1000000")),
        Allowance("calls", "calls", "Calls", D("99999"), D("0")),
    ))
    assert keys(found) == ["usage:tasks:80", "usage:tokens:80", "usage:tokens:100"]
    assert found[0].value == D("850") and found[0].allowance.included == D("1000")


def test_spend_and_projected_thresholds_compare_the_amounts():
    rules = [Threshold(Kind.SPEND, D("100")), Threshold(Kind.SPEND, D("250.50")),
             Threshold(Kind.PROJECTED_SPEND, D("400"))]
    assert keys(crossings(rules, status(bill="99.99", projected="399.99"))) == []
    found = crossings(rules, status(bill="250.50", projected="400"))
    assert keys(found) == ["spend:100", "spend:250.5", "projected:400"]
    assert [c.value for c in found] == [D("250.50"), D("250.50"), D("400")]


def test_no_projection_yet_means_no_projected_crossing():
    rules = [Threshold(Kind.PROJECTED_SPEND, D("1"))]
    assert crossings(rules, status(bill="1000", projected=None)) == ()


def test_keys_do_not_depend_on_how_the_value_was_written():
    assert key_of(Threshold(Kind.SPEND, D("1000.00"))) == key_of(Threshold(Kind.SPEND, D("1E+3")))
    assert key_of(Threshold(Kind.USAGE_PERCENT, D("80.0")), "tasks") == "usage:tasks:80"


def test_a_crossing_says_what_happened_in_plain_numbers():
    (crossing,) = crossings([Threshold(Kind.USAGE_PERCENT, D(80))],
                            status(tasks("1250.50", "1500")))
    assert crossing.describe("USD") == (
        "Tasks completed: 80% of the allowance used (1,250.5 of 1,500)")
    (spend,) = crossings([Threshold(Kind.SPEND, D(100))], status(bill="120.5"))
    assert spend.describe("USD") == "The bill so far reached USD 100.00 (USD 120.50)"
