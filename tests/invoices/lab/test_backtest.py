"""Backtests on the database: the book's exact numbers, and one engine with invoicing
(the candidate total of a period is what a billing run on that version invoices)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Customer
from invoices.lab.backtest_selectors import backtest_results, backtest_summary
from invoices.lab.backtest_service import backtest_create, backtest_run
from invoices.lab.models import Backtest
from invoices.models import Invoice
from invoices.services import billing_run, invoice_finalize
from plans.models import ContractMigration
from tests.invoices.billing_fixtures import at
from tests.invoices.lab.book import AS_OF, BOOK, COST, V1_TOTAL, V2_TOTAL, add_tasks, build_book

pytestmark = pytest.mark.django_db

SEP, OCT = at(2026, 9, 1), at(2026, 10, 1)


def run(**fields) -> Backtest:
    fields.setdefault("plan", "team")
    fields.setdefault("plan_version", 2)
    fields.setdefault("periods", 2)
    backtest = backtest_create(now=AS_OF, **fields)
    return backtest_run(backtest_id=backtest.pk, now=AS_OF)


def rows_of(backtest: Backtest) -> dict:
    return {
        (r.customer.external_id, r.period_start): (r.current_total, r.candidate_total,
                                                   r.provider_cost, r.invoiced)
        for r in backtest_results(backtest=backtest)
    }


def test_the_latest_periods_rated_on_the_candidate_and_on_their_own_version_when_not_invoiced():
    build_book()
    backtest = run()
    assert backtest.status == Backtest.Status.DONE
    assert backtest.progress == 1 and backtest.customers_total == 3
    expected = {
        (name, start): (V1_TOTAL[name], V2_TOTAL[name], COST[name], False)
        for name in BOOK for start in (SEP, OCT)  # the latest two of three ended periods
    }
    assert rows_of(backtest) == expected
    row = backtest_results(backtest=backtest, customer="light").first()
    assert row.period_end == OCT and row.billed_seats == Decimal(2)


def test_summary_totals_margins_and_who_pays_more_or_less():
    build_book()
    summary = backtest_summary(backtest=run())
    assert summary.current_total == Decimal("240.00")  # 2 × (60 + 30 + 30)
    assert summary.candidate_total == Decimal("740.00")  # 2 × (40 + 65 + 265)
    assert summary.provider_cost == Decimal("242.00")  # 2 × (1 + 20 + 100)
    assert summary.margin_before == Decimal("-2.00")
    assert summary.margin_after == Decimal("498.00")
    assert summary.margin_rate_after == Decimal("0.6730")  # 498 / 740
    assert (summary.customers_paying_more, summary.customers_paying_less) == (2, 1)
    assert [(c.customer, c.change) for c in summary.biggest_losers] == [
        ("whale", Decimal("470.00")), ("heavy", Decimal("70.00"))]
    assert [(c.customer, c.change) for c in summary.biggest_winners] == [
        ("light", Decimal("-40.00"))]


def test_invoiced_periods_compare_with_their_invoice_and_unbilled_ones_with_their_version():
    build_book()
    billing_run(as_of=at(2026, 10, 1, 1), now=at(2026, 10, 1, 1))  # August and September
    backtest = run(customers=["whale"])
    rows = rows_of(backtest)
    september = Invoice.objects.get(customer__external_id="whale", period_start=SEP)
    assert rows == {
        ("whale", SEP): (september.total, V2_TOTAL["whale"], COST["whale"], True),
        ("whale", OCT): (V1_TOTAL["whale"], V2_TOTAL["whale"], COST["whale"], False),
    }
    assert september.total == V1_TOTAL["whale"]


def test_candidate_totals_are_what_a_billing_run_on_the_candidate_invoices():
    _plan, _v1, v2 = build_book()
    backtest = run(periods=3)
    candidate = {key: values[1] for key, values in rows_of(backtest).items()}
    assert len(candidate) == 9
    # Move every contract to the candidate from August, and bill the same periods.
    for contract in v2.plan.versions.get(version=1).contracts.all():
        ContractMigration.objects.create(contract=contract, plan_version=v2,
                                         effective_date=dt.date(2026, 8, 1),
                                         scheduled_on=dt.date(2026, 6, 1))
    billing_run(as_of=AS_OF, now=AS_OF)
    invoiced = {(i.customer.external_id, i.period_start): i.total
                for i in Invoice.objects.select_related("customer")}
    assert invoiced == candidate
    assert set(Invoice.objects.values_list("plan_version", flat=True)) == {v2.pk}


def test_a_late_event_counts_in_its_own_period_on_the_candidate_while_the_invoice_stays():
    build_book()
    billing_run(as_of=at(2026, 10, 1, 1), now=at(2026, 10, 1, 1))
    for invoice in Invoice.objects.filter(customer__external_id="heavy"):
        invoice_finalize(invoice=invoice, now=at(2026, 10, 2))
    # 100 tasks for September arrive in October, after its invoice was finalized.
    add_tasks(Customer.objects.get(external_id="heavy"), 100, when=at(2026, 9, 20),
              received_at=at(2026, 10, 5))
    rows = rows_of(run(customers=["heavy"]))
    # v2 in September: 20 + (1,100 − 100) × 0.05; the invoiced 30.00 stays what it was.
    assert rows[("heavy", SEP)] == (Decimal("30.00"), Decimal("70.00"), Decimal("22.00"), True)
    assert rows[("heavy", OCT)][:2] == (Decimal("30.00"), Decimal("65.00"))


def test_a_draft_candidate_is_backtested_like_a_published_one():
    build_book(candidate_published=False)
    assert {v[1] for v in rows_of(run(customers=["heavy"])).values()} == {V2_TOTAL["heavy"]}


def test_running_twice_writes_each_row_once_and_progress_counts_chunks():
    build_book()
    backtest = backtest_create(plan="team", plan_version=2, periods=1, now=AS_OF)
    done = backtest_run(backtest_id=backtest.pk, now=AS_OF, size=1)
    assert done.customers_done == 3 and done.results.count() == 3
    Backtest.objects.filter(pk=backtest.pk).update(status=Backtest.Status.RUNNING)
    again = backtest_run(backtest_id=backtest.pk, now=AS_OF, size=2)
    assert again.status == Backtest.Status.DONE and again.results.count() == 3
