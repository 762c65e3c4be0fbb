"""From catalog rows to rating terms: charge keys, price books, overrides, periods."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.services.drafting import PriceBooks
from invoices.services.terms import (
    charge_key,
    contract_overrides,
    contract_periods,
    period_terms,
    price_book,
    tidy,
    version_in_force,
)
from plans.periods import Period
from plans.selectors import plan_version_with_charges
from plans.services import contract_create, contract_schedule_migration
from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version
from tests.invoices.billing_fixtures import team_version

pytestmark = pytest.mark.django_db


def test_charge_key_is_the_metric_code_plus_canonical_filters():
    assert charge_key(metric_code="tasks", filters={}) == "tasks"
    assert charge_key(metric_code="tokens", filters={"tier": "rt", "a": 1}) == (
        'tokens[a=1,tier="rt"]')


def test_tidy_drops_column_padding_but_keeps_money_places():
    assert str(tidy(D("0.0500000000"))) == "0.05"
    assert str(tidy(D("40.0000000000"), 2)) == "40.00"
    assert str(tidy(D("1000.000000"))) == "1000"
    assert str(tidy(D("0.0000020000"))) == "0.000002"


def test_price_book_builds_terms_and_matching_usage_charges():
    MetricFactory(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                  field="total_tokens")
    MetricFactory(code="tasks")
    version = make_version(seat_price="40", base_fee="10", charges=[
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 1000},
        {"metric": "tokens", "model": "graduated", "filters": {"latency_tier": "realtime"},
         "tiers": [{"up_to": 100, "unit_price": "0.1"}, {"up_to": None, "unit_price": "0.05"}]},
        {"metric": "tasks", "model": "package", "package_size": 100, "package_price": "5"},
    ])

    book = price_book(plan_version_with_charges(version_id=version.pk))

    keys = [c.key for c in book.terms.charges]
    assert keys == ["tasks", 'tokens[latency_tier="realtime"]', "tasks#2"]
    assert [c.key for c in book.usage_charges] == keys
    assert book.usage_charges[1].filters == {"latency_tier": "realtime"}
    assert (book.terms.seat_price, book.terms.base_fee) == (D("40.00"), D("10.00"))
    tasks, tokens, packages = book.terms.charges
    assert (tasks.unit_price, tasks.included_per_seat) == (D("0.05"), D(1000))
    assert [(t.up_to, t.unit_price) for t in tokens.tiers] == [
        (D(100), D("0.1")), (None, D("0.05"))]
    assert (packages.package_size, packages.package_price) == (100, D("5.00"))


def test_overrides_replace_prices_and_only_per_seat_allowances():
    MetricFactory(code="docs", event_type="doc.parsed", aggregation="count")
    team = team_version()
    version = make_version(plan=team.plan, charges=[
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 1000},
        {"metric": "docs", "model": "per_unit", "unit_price": "1", "included_units": 5},
    ])
    customer = CustomerFactory()
    contract = contract_create(customer=customer, plan_version=version,
                               start_date=dt.date(2026, 10, 1), committed_seats=4,
                               seat_price=D("30"), included_per_seat=D("2000"),
                               overage_cap=D("100"))

    terms = period_terms(PriceBooks().book(version.pk), contract_overrides(contract))

    assert terms.seat_price == D("30") and terms.committed_seats == 4
    assert terms.overage_cap == D("100") and terms.discount_percent is None
    tasks, docs = terms.charges
    assert tasks.included_per_seat == D("2000")
    assert docs.included_per_seat is None and docs.included_units == D(5)


def test_contract_periods_anchor_on_the_start_and_stop_at_the_term_end():
    version = team_version()
    contract = contract_create(customer=CustomerFactory(), plan_version=version,
                               start_date=dt.date(2026, 1, 31), end_date=dt.date(2026, 4, 29))

    periods = list(contract_periods(contract))

    assert periods == [
        Period(dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
        Period(dt.date(2026, 2, 28), dt.date(2026, 3, 31)),
        Period(dt.date(2026, 3, 31), dt.date(2026, 4, 30)),
    ]
    assert list(contract_periods(contract, until=dt.date(2026, 3, 30))) == periods[:1]


def test_yearly_contract_has_yearly_periods():
    version = team_version(billing_interval="year", plan=PlanFactory(code="yearly"))
    contract = contract_create(customer=CustomerFactory(), plan_version=version,
                               start_date=dt.date(2026, 3, 15))

    first, second = list(contract_periods(contract, until=dt.date(2028, 3, 15)))

    assert first == Period(dt.date(2026, 3, 15), dt.date(2027, 3, 15))
    assert second.end == dt.date(2028, 3, 15)


def test_version_in_force_follows_scheduled_migrations_from_their_period_start():
    plan = PlanFactory(code="team")
    v1 = team_version(plan=plan)
    v2 = team_version(plan=plan, seat_price="50")
    contract = contract_create(customer=CustomerFactory(), plan_version=v1,
                               start_date=dt.date(2026, 10, 1))
    contract_schedule_migration(contract=contract, plan_version=v2,
                                effective_date=dt.date(2026, 12, 1), today=dt.date(2026, 10, 1))
    contract.refresh_from_db()

    november = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    december = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
    assert version_in_force(contract, november) == v1
    assert version_in_force(contract, december) == v2
