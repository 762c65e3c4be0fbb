"""Migration planning on the hand-computable book (tests/invoices/lab/pricing_book.py):
when each migration takes effect, each customer's effect, and the one action."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from invoices.lab.backtest_service import backtest_create, backtest_run
from invoices.lab.migration_planning import (
    ALREADY,
    AT_RENEWAL,
    MIGRATE,
    chosen_contracts,
    effect_totals,
    effective_date,
    effects,
    grandfather_until_renewal,
    plan_steps,
    schedule_migrations,
)
from plans.models import Contract, ContractMigration
from plans.selectors import contract_pending_migrations
from plans.services import contract_create, contract_schedule_migration
from tests.factories import CustomerFactory, make_version
from tests.invoices.lab.pricing_book import AS_OF, build_book

TODAY = AS_OF.date()  # 2026-11-01
DEC_1, JAN_1 = dt.date(2026, 12, 1), dt.date(2027, 1, 1)


@pytest.mark.parametrize(("anchor", "end_date", "today", "notice", "expected"), [
    (dt.date(2026, 10, 1), None, TODAY, 30, DEC_1),  # 31 Oct + 30 days = 1 Dec, a start
    (dt.date(2026, 10, 1), None, TODAY, 31, JAN_1),  # 2 Dec is not: the next start
    (dt.date(2026, 10, 1), None, TODAY, 0, TODAY),  # no notice: today is a period start
    (dt.date(2026, 10, 1), None, dt.date(2026, 11, 2), 0, DEC_1),
    (dt.date(2026, 10, 1), dt.date(2026, 12, 31), TODAY, 30, DEC_1),
    (dt.date(2026, 10, 1), dt.date(2026, 11, 30), TODAY, 30, None),  # ends first: renewal
    (dt.date(2026, 1, 31), None, dt.date(2026, 1, 31), 0, dt.date(2026, 2, 28)),  # clamped
])
def test_a_migration_takes_effect_at_the_first_period_start_after_the_notice(
        anchor, end_date, today, notice, expected):
    assert effective_date(anchor=anchor, interval="month", start=anchor, end_date=end_date,
                          today=today, notice_days=notice) == expected


@pytest.fixture
def book(db):
    return build_book(candidate_published=True)


def test_contracts_are_chosen_by_plan_version_and_customer_list(book):
    plan, v1, v2 = book
    everyone = [c.customer.external_id for c in chosen_contracts(plan=plan, today=TODAY)]
    assert everyone == ["a", "b", "c", "d", "e", "newcomer", "zero"]  # not the outsider
    assert [c.customer.external_id for c in chosen_contracts(
        plan=plan, today=TODAY, customers=["e", "a"])] == ["a", "e"]
    assert chosen_contracts(plan=plan, today=TODAY, version=2) == []
    assert len(chosen_contracts(plan=plan, today=TODAY, version=1)) == 7
    with pytest.raises(ValidationError, match="ghost"):
        chosen_contracts(plan=plan, today=TODAY, customers=["a", "ghost"])


def test_the_plan_says_when_each_contract_moves_or_why_not(book):
    plan, v1, v2 = book
    ending = CustomerFactory(external_id="ending", currency="USD")
    contract_create(customer=ending, plan_version=v1, start_date=dt.date(2026, 10, 1),
                    end_date=dt.date(2026, 11, 30))
    steps = {s.customer: s for s in plan_steps(chosen_contracts(plan=plan, today=TODAY),
                                               target=v2, today=TODAY, notice_days=30)}
    assert {n: (s.action, s.effective_date) for n, s in steps.items()} == {
        "a": (MIGRATE, DEC_1), "b": (MIGRATE, DEC_1), "c": (MIGRATE, DEC_1),
        "d": (MIGRATE, DEC_1), "e": (MIGRATE, DEC_1), "zero": (MIGRATE, DEC_1),
        "newcomer": (MIGRATE, dt.date(2026, 12, 20)),  # anchored on the 20th
        "ending": (AT_RENEWAL, None),
    }
    assert steps["ending"].renews_on == dt.date(2026, 12, 1)
    assert steps["a"].version == "team v1"


def test_without_a_backtest_the_effect_is_the_last_period_rated_on_the_target(book):
    plan, v1, v2 = book
    found, used = effects(chosen_contracts(plan=plan, today=TODAY), target=v2, now=AS_OF)
    assert used is None
    # October on v1 (30.00 a seat) against v2 (20.00 a seat + 0.05 a task above 100 a seat).
    assert {n: (e.current_total, e.candidate_total, e.provider_cost) for n, e in found.items()} \
        == {"a": (D("30.00"), D("20.00"), D("1.00")), "b": (D("60.00"), D("40.00"), D("10.00")),
            "c": (D("30.00"), D("20.00"), D("10.00")),
            "d": (D("120.00"), D("100.00"), D("80.00")),  # 4 committed: 80 + 400 × 0.05
            "e": (D("30.00"), D("40.00"), D("50.00")),  # 20 + 400 × 0.05
            "zero": (D("0.00"), D("0.25"), D("0.50"))}  # no seat; 5 tasks × 0.05
    assert {e.source for e in found.values()} == {"last period"}
    assert found["e"].margin_before == D("-20.00") and found["e"].margin_after == D("-10.00")
    totals = effect_totals(found)
    assert (totals["paying_more"], totals["paying_less"]) == (2, 4)
    assert totals["change"] == D("-49.75")


def test_the_effect_comes_from_the_latest_backtest_of_the_target(book):
    plan, v1, v2 = book
    backtest = backtest_create(plan="team", plan_version=2, periods=1, customers=["a", "e"],
                               now=AS_OF)
    backtest_run(backtest_id=backtest.pk, now=AS_OF)
    found, used = effects(chosen_contracts(plan=plan, today=TODAY), target=v2, now=AS_OF)
    assert used.pk == backtest.pk
    assert {n: e.source for n, e in found.items() if e.source == "backtest"} == {
        "a": "backtest", "e": "backtest"}
    assert (found["e"].current_total, found["e"].candidate_total) == (D("30.00"), D("40.00"))
    assert found["b"].source == "last period"  # the backtest did not cover b


def test_one_action_schedules_every_migration_with_notice(book):
    plan, v1, v2 = book
    contracts = chosen_contracts(plan=plan, today=TODAY, customers=["a", "newcomer"])
    done = schedule_migrations(contracts=contracts, target=v2, today=TODAY, notice_days=30)
    assert sorted((m.contract.customer.external_id, m.effective_date, m.notice_days,
                   m.scheduled_on) for m in done) == [
        ("a", DEC_1, 30, TODAY), ("newcomer", dt.date(2026, 12, 20), 30, TODAY)]
    # What the customer's usage page shows as pending.
    a = Contract.objects.get(customer__external_id="a")
    assert [m.plan_version for m in contract_pending_migrations(contract=a, today=TODAY)] == [v2]
    # Planned again, they are already scheduled: nothing twice.
    assert {s.action for s in plan_steps(chosen_contracts(plan=plan, today=TODAY, customers=[
        "a", "newcomer"]), target=v2, today=TODAY)} == {ALREADY}
    assert schedule_migrations(contracts=chosen_contracts(plan=plan, today=TODAY, customers=[
        "a"]), target=v2, today=TODAY) == []


def test_when_one_migration_is_refused_none_is_scheduled(book):
    plan, v1, v2 = book
    v3 = make_version(plan=plan, seat_price="25.00")
    c = Contract.objects.get(customer__external_id="c")
    contract_schedule_migration(contract=c, plan_version=v3, effective_date=DEC_1, today=TODAY)
    with pytest.raises(ValidationError, match="c: A migration is already scheduled"):
        schedule_migrations(contracts=chosen_contracts(plan=plan, today=TODAY), target=v2,
                            today=TODAY)
    assert ContractMigration.objects.count() == 1  # only c's earlier one


def test_grandfathering_keeps_the_version_and_renews_onto_the_current_one(book):
    plan, v1, v2 = book
    termed = CustomerFactory(external_id="termed", currency="USD")
    contract_create(customer=termed, plan_version=v1, start_date=dt.date(2026, 10, 1),
                    end_date=dt.date(2027, 9, 30))
    changed = grandfather_until_renewal(contracts=chosen_contracts(plan=plan, today=TODAY))
    assert [c.customer.external_id for c in changed] == ["termed"]  # the rest are evergreen
    contract = Contract.objects.get(customer=termed)
    assert (contract.renewal, contract.plan_version) == (Contract.Renewal.LATEST, v1)
    assert ContractMigration.objects.count() == 0
