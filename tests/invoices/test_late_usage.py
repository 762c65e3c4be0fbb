"""Late usage (SPEC 4): events for a period whose invoice is finalized are billed on the
next invoice, as the exact difference on that period's terms, and only once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.models import Invoice
from invoices.services import (
    billing_run,
    invoice_finalize,
    invoice_hold,
    invoice_rerate,
    invoice_void,
)
from plans.services import contract_update
from tests.invoices.billing_fixtures import add_events, at, worked_example

pytestmark = pytest.mark.django_db


def invoice_for(contract, month: int, year: int = 2026) -> Invoice:
    return Invoice.objects.get(contract=contract, period_start=at(year, month, 1))


def late_lines(invoice: Invoice):
    return list(invoice.lines.filter(kind="late_usage"))


@pytest.fixture
def october_finalized():
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice_finalize(invoice=invoice_for(contract, 10), now=at(2026, 11, 2))
    return contract


def test_late_events_appear_on_the_next_invoice_with_the_exact_difference(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20),
               received_at=at(2026, 11, 5))

    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))

    november = invoice_for(contract, 11)
    (late,) = late_lines(november)
    assert late.amount == D("15.00")  # billable 878 → 1178: 300 × 0.05
    assert (late.metric, late.value, late.billable) == ("tasks", 300, 300)
    assert (late.period_start, late.period_end) == (dt.date(2026, 10, 1), dt.date(2026, 11, 1))
    assert "Late usage for 2026-10-01 to 2026-10-31" in late.description
    assert november.late_usage_snapshots == {"2026-10-01": {"tasks": "5500"}}
    assert november.total == D("200.00") + D("15.00")
    october = invoice_for(contract, 10)
    assert october.total == D("216.80") and october.usage_snapshot == {"tasks": "5200"}


def test_late_events_are_billed_once_and_only_newer_ones_later(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20), received_at=at(2026, 11, 5))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    invoice_finalize(invoice=invoice_for(contract, 11), now=at(2026, 12, 2))
    # Still inside the backfill window of October (35 days after its end).
    add_events(contract.customer, count=10, when=at(2026, 10, 31, 23),
               received_at=at(2026, 12, 3))

    billing_run(as_of=at(2027, 1, 1, 1), now=at(2027, 1, 1, 1))
    invoice_finalize(invoice=invoice_for(contract, 12), now=at(2027, 1, 2))
    billing_run(as_of=at(2027, 2, 1, 1), now=at(2027, 2, 1, 1))

    assert [line.amount for line in late_lines(invoice_for(contract, 11))] == [D("15.00")]
    (late,) = late_lines(invoice_for(contract, 12))
    assert late.amount == D("0.50") and late.value == 10
    assert late_lines(invoice_for(contract, 1, 2027)) == []


def test_late_events_while_the_next_invoice_is_a_draft_update_that_draft(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    add_events(contract.customer, count=10, when=at(2026, 10, 21))

    billing_run(as_of=at(2026, 12, 1, 2), now=at(2026, 12, 1, 2))

    november = invoice_for(contract, 11)
    (late,) = late_lines(november)
    assert late.amount == D("15.50")
    assert november.late_usage_snapshots == {"2026-10-01": {"tasks": "5510"}}


def test_late_events_within_the_allowance_cost_nothing_but_move_the_baseline():
    contract = worked_example(tasks=4000)  # 4000 of 4322 included
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice_finalize(invoice=invoice_for(contract, 10), now=at(2026, 11, 2))
    add_events(contract.customer, count=300, when=at(2026, 10, 20))

    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))

    november = invoice_for(contract, 11)
    assert late_lines(november) == []
    assert november.late_usage_snapshots == {"2026-10-01": {"tasks": "4300"}}


def test_late_usage_is_priced_on_the_period_terms_not_the_current_overrides(october_finalized):
    contract = october_finalized
    contract_update(contract=contract, committed_seats=10)
    add_events(contract.customer, count=300, when=at(2026, 10, 20))

    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))

    # October was rated with 3 committed seats: 4.322581 billed, 4322 included.
    (late,) = late_lines(invoice_for(contract, 11))
    assert late.amount == D("15.00")


def test_two_open_drafts_bill_late_usage_once(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20))

    billing_run(as_of=at(2027, 1, 1, 1), now=at(2027, 1, 1, 1))  # November and December drafts in one run

    assert [line.amount for line in late_lines(invoice_for(contract, 11))] == [D("15.00")]
    assert late_lines(invoice_for(contract, 12)) == []
    billing_run(as_of=at(2027, 1, 1, 2), now=at(2027, 1, 1, 2))
    assert [line.amount for line in late_lines(invoice_for(contract, 11))] == [D("15.00")]
    assert late_lines(invoice_for(contract, 12)) == []


def test_a_later_invoice_that_billed_late_usage_freezes_it_on_an_earlier_draft(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    november = invoice_hold(invoice=invoice_for(contract, 11))
    add_events(contract.customer, count=10, when=at(2026, 10, 21))
    # November is held, so December bills the 10 new October events and is finalized first.
    billing_run(as_of=at(2027, 1, 1, 1), now=at(2027, 1, 1, 1))
    december = invoice_finalize(invoice=invoice_for(contract, 12), now=at(2027, 1, 2))
    assert [line.amount for line in late_lines(december)] == [D("0.50")]

    invoice_rerate(invoice=november, now=at(2027, 1, 3))

    # Re-rating November must not bill those 10 events again.
    assert [line.amount for line in late_lines(invoice_for(contract, 11))] == [D("15.00")]
    assert invoice_for(contract, 11).late_usage_snapshots == {"2026-10-01": {"tasks": "5500"}}
    billing_run(as_of=at(2027, 2, 1, 1), now=at(2027, 2, 1, 1))
    assert late_lines(invoice_for(contract, 1, 2027)) == []


def test_rerating_an_earlier_draft_without_a_later_bill_picks_up_new_late_events(
        october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    november = invoice_hold(invoice=invoice_for(contract, 11))
    add_events(contract.customer, count=10, when=at(2026, 10, 21))

    invoice_rerate(invoice=november, now=at(2026, 12, 2))

    assert [line.amount for line in late_lines(invoice_for(contract, 11))] == [D("15.50")]


def test_void_invoice_late_snapshots_do_not_count(october_finalized):
    contract = october_finalized
    add_events(contract.customer, count=300, when=at(2026, 10, 20))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    invoice_void(invoice=invoice_for(contract, 11), now=at(2026, 12, 2))

    billing_run(as_of=at(2027, 1, 1, 1), now=at(2027, 1, 1, 1))

    (late,) = late_lines(invoice_for(contract, 12))
    assert late.amount == D("15.00")


def test_periods_older_than_the_backfill_window_are_not_looked_at(october_finalized, settings):
    contract = october_finalized
    settings.USAGE_BACKFILL_DAYS = 35
    add_events(contract.customer, count=300, when=at(2026, 10, 20))
    # December's invoice: October ended 2026-11-01, more than 35 days before Dec 1? No:
    # 30 days, so it is looked at; January's period starts 61 days after, so it is not.
    billing_run(as_of=at(2027, 2, 1, 1), now=at(2027, 2, 1, 1))

    assert late_lines(invoice_for(contract, 11)) != []
    assert late_lines(invoice_for(contract, 1, 2027)) == []
