"""The backtest's pure steps, without a database: which periods, the comparison, the summary."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from invoices.lab.backtest import (
    CustomerChange,
    Invoiced,
    backtest_periods,
    compare,
    margin_rate,
    plan_backtest,
    summarize,
)
from invoices.rating import SeatSpan, Terms
from invoices.rating.books import PriceBook
from invoices.rating.drafts import Work, rate_work
from invoices.rating.planning import Calendar, ContractTerms, Migration
from plans.periods import Period

D = dt.date
AUG, SEP, OCT = (Period(D(2026, 8, 1), D(2026, 9, 1)), Period(D(2026, 9, 1), D(2026, 10, 1)),
                 Period(D(2026, 10, 1), D(2026, 11, 1)))


def contract(contract_id: int, customer_id: int, start: D, end: D | None = None, *,
             version_id: int = 1, migrations=()) -> ContractTerms:
    return ContractTerms(contract_id=contract_id, customer_id=customer_id, status="active",
                         calendar=Calendar(start, "month", start, end), version_id=version_id,
                         migrations=tuple(migrations))


def book(version_id: int, seat_price: str) -> PriceBook:
    return PriceBook(version_id=version_id, plan_code="team", version=version_id,
                     interval="month",
                     terms=Terms(currency="USD", seat_price=Decimal(seat_price),
                                 base_fee=Decimal(0), charges=()))


def test_the_latest_periods_ended_by_the_day_across_a_customers_contracts():
    renewed = [contract(1, 7, D(2026, 7, 1), D(2026, 8, 31)), contract(2, 7, D(2026, 9, 1))]
    chosen = backtest_periods([*renewed, contract(3, 8, D(2026, 10, 1))],
                              until=D(2026, 11, 1), periods=3)
    assert [(c.contract_id, p) for c, p in chosen] == [(1, AUG), (2, SEP), (2, OCT), (3, OCT)]
    assert backtest_periods(renewed, until=D(2026, 10, 31), periods=3)[-1][1] == SEP


def test_invoiced_periods_are_rated_on_the_candidate_only_others_on_their_own_version_too():
    terms = contract(1, 7, D(2026, 8, 1), migrations=[Migration(D(2026, 10, 1), 3)])
    plan = plan_backtest([(terms, SEP), (terms, OCT)], candidate_id=2,
                         invoiced={(1, SEP.start): Invoiced(Decimal("1"), 1)})
    assert [(t.period, t.version_id) for t in plan.candidate] == [(SEP, 2), (OCT, 2)]
    assert [(t.period, t.version_id) for t in plan.current] == [(OCT, 3)]  # its migration's


def test_compare_takes_the_invoice_total_or_the_own_rating_and_the_cost():
    terms = contract(1, 7, D(2026, 8, 1))
    plan = plan_backtest([(terms, SEP), (terms, OCT)], candidate_id=2,
                         invoiced={(1, SEP.start): Invoiced(Decimal("33.00"), 1)})
    seats = (SeatSpan("a@x.test", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), None),)
    work = Work(targets=(), contracts={1: terms}, books={1: book(1, "30"), 2: book(2, "20")},
                seats={7: seats}, states={}, usage={
                    (7, SEP, 2): {}, (7, OCT, 2): {}, (7, OCT, 1): {}},
                backfill=dt.timedelta(days=30))
    candidate = rate_work(dataclasses.replace(work, targets=plan.candidate))
    current = rate_work(dataclasses.replace(work, targets=plan.current))
    rows, errors = compare(candidate=candidate, current=current,
                           invoiced={(1, SEP.start): Invoiced(Decimal("33.00"), 1)},
                           provider_cost={(7, OCT): Decimal("4.5")})
    assert errors == {}
    assert [(r.period, r.invoiced, r.current_total, r.candidate_total, r.provider_cost)
            for r in rows] == [
        (SEP, True, Decimal("33.00"), Decimal("20.00"), Decimal(0)),
        (OCT, False, Decimal("30.00"), Decimal("20.00"), Decimal("4.5")),
    ]
    assert rows[1].change == Decimal("-10.00")


def test_summary_counts_customers_not_periods_and_orders_winners_and_losers():
    changes = [CustomerChange("a", Decimal(10), Decimal(15), Decimal(1)),
               CustomerChange("b", Decimal(10), Decimal(30), Decimal(2)),
               CustomerChange("c", Decimal(10), Decimal(4), Decimal(3)),
               CustomerChange("d", Decimal(10), Decimal(10), Decimal(0))]
    summary = summarize(changes, top=1)
    assert (summary.current_total, summary.candidate_total, summary.provider_cost) == (
        Decimal(40), Decimal(59), Decimal(6))
    assert (summary.customers_paying_more, summary.customers_paying_less,
            summary.customers_unchanged) == (2, 1, 1)
    assert [c.customer for c in summary.biggest_losers] == ["b"]
    assert [c.customer for c in summary.biggest_winners] == ["c"]
    assert summary.margin_change == Decimal(19)


def test_margin_rate_is_none_when_nothing_is_billed():
    assert margin_rate(Decimal(0), Decimal(5)) is None
    assert margin_rate(Decimal(40), Decimal(10)) == Decimal("0.7500")
