"""From catalog rows to rating terms: charge keys, price books, overrides."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.rating.books import OVERRIDE_FIELDS
from invoices.selectors.terms import (
    charge_key,
    load_price_books,
    overrides_json,
)
from plans.services import contract_create
from tests.factories import CustomerFactory, MetricFactory, make_version
from tests.invoices.billing_fixtures import team_version

pytestmark = pytest.mark.django_db


def test_charge_key_is_the_metric_code_plus_canonical_filters():
    assert charge_key(metric_code="tasks", filters={}) == "tasks"
    assert charge_key(metric_code="tokens", filters={"tier": "rt", "a": 1}) == (
        'tokens[a=1,tier="rt"]')


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

    book = load_price_books([version.pk])[version.pk]

    keys = [c.key for c in book.terms.charges]
    assert keys == ["tasks", 'tokens[latency_tier="realtime"]', "tasks#2"]
    assert [c.key for c in book.usage_charges] == keys
    assert book.usage_charges[1].filters == {"latency_tier": "realtime"}
    assert [c.metric for c in book.usage_charges] == ["tasks", "tokens", "tasks"]  # plain codes
    assert (book.terms.seat_price, book.terms.base_fee) == (D("40.00"), D("10.00"))
    tasks, tokens, packages = book.terms.charges
    assert (tasks.unit_price, tasks.included_per_seat) == (D("0.05"), D(1000))
    assert [(t.up_to, t.unit_price) for t in tokens.tiers] == [
        (D(100), D("0.1")), (None, D("0.05"))]
    assert (packages.package_size, packages.package_price) == (100, D("5.00"))
    assert (book.plan_code, book.version, book.interval) == (
        version.plan.code, version.version, "month")


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

    stored = dict(overrides_json({name: getattr(contract, name) for name in OVERRIDE_FIELDS}))
    terms = load_price_books([version.pk])[version.pk].with_overrides(stored)

    assert stored["seat_price"] == "30" and stored["committed_seats"] == 4
    assert stored["discount_percent"] is None
    assert terms.seat_price == D("30") and terms.committed_seats == 4
    assert terms.overage_cap == D("100") and terms.discount_percent is None
    tasks, docs = terms.charges
    assert tasks.included_per_seat == D("2000")
    assert docs.included_per_seat is None and docs.included_units == D(5)


def test_price_books_are_loaded_once_per_version_into_the_shared_cache(
        django_assert_num_queries):
    version = team_version()
    cache: dict = {}
    with django_assert_num_queries(3):  # versions with plans, charges with metrics, tiers
        first = load_price_books([version.pk], cache)

    with django_assert_num_queries(0):
        again = load_price_books([version.pk], cache)

    assert again[version.pk] is first[version.pk] is cache[version.pk]
