"""The billing run's window scan (PostgreSQL, many customers on one period) measures
exactly what ``usage.selectors.charge_usage_many`` measures, on awkward data too."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from invoices.selectors.terms import load_price_books
from invoices.selectors.usage import UsageRequest, load_usage
from tests.factories import CustomerFactory, MetricFactory, make_version
from tests.invoices.billing_fixtures import add_events, at

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

OCTOBER = (at(2026, 10, 1), at(2026, 11, 1))


@pytest.fixture
def book():
    MetricFactory(code="tasks", event_type="task.completed", aggregation="count")
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="total_tokens")
    MetricFactory(code="tokens_rt", event_type="ai.call", aggregation="sum",
                  field="total_tokens", filters={"latency_tier": "realtime"})
    MetricFactory(code="peak", event_type="ai.call", aggregation="max", field="latency_ms")
    MetricFactory(code="users", event_type="ai.call", aggregation="unique_count", field="seat")
    version = make_version(seat_price="0", charges=[
        {"metric": "tasks", "model": "per_unit", "unit_price": "1"},
        {"metric": "tokens", "model": "per_unit", "unit_price": "1"},
        {"metric": "tokens", "model": "per_unit", "unit_price": "1",
         "filters": {"model": "gpt-4.1-mini"}},
        {"metric": "tokens_rt", "model": "per_unit", "unit_price": "1"},
        {"metric": "peak", "model": "per_unit", "unit_price": "1"},
        {"metric": "users", "model": "per_unit", "unit_price": "1"},
    ])
    return load_price_books([version.pk])[version.pk]


def awkward_events(customer, n: int) -> None:
    when = at(2026, 10, 3, 12, 30)
    add_events(customer, count=3 + n, when=when)
    call = "ai.call"
    for props in (
        {"total_tokens": 1500, "latency_tier": "realtime", "model": "gpt-4.1-mini",
         "latency_ms": 120, "seat": "a@x"},
        {"total_tokens": "12", "latency_tier": "batch", "model": "gpt-4.1-mini", "seat": "A@x"},
        {"total_tokens": 1.5, "latency_tier": "realtime", "latency_ms": "340", "seat": 7},
        {"total_tokens": "abc", "latency_ms": "fast", "seat": 7.0},
        {"total_tokens": True, "seat": None},
        {"total_tokens": "1e3", "model": "other", "latency_ms": -5},
        {"total_tokens": 0.1 * n},
    ):
        add_events(customer, count=1 + n % 2, when=when, event_type=call, properties=props)
    add_events(customer, count=2, when=at(2026, 11, 1), event_type=call,
               properties={"total_tokens": 999})  # outside the window
    add_events(customer, count=2, when=at(2026, 9, 30, 23, 59), event_type=call,
               properties={"total_tokens": 999})


def test_window_scan_and_selector_agree(book, settings):
    customers = [CustomerFactory(external_id=f"scan{n}") for n in range(4)]
    for n, customer in enumerate(customers[:3]):
        awkward_events(customer, n)  # the fourth has no events at all
    requests = [UsageRequest(c.pk, *OCTOBER, book.version_id, book.usage_charges)
                for c in customers]

    settings.BILLING_USAGE_SCAN_MIN_CUSTOMERS = 10**9
    by_selector = load_usage(requests)
    settings.BILLING_USAGE_SCAN_MIN_CUSTOMERS = 1
    by_scan = load_usage(requests)

    assert by_scan == by_selector
    first = by_scan[0]
    assert first["tasks"] == 3
    assert first["tokens"] == D("2513.5")  # 1500 + 12 + 1.5 + 1000 (+ 0.0)
    assert first['tokens[model="gpt-4.1-mini"]'] == D("1512")
    assert first["tokens_rt"] == D("1501.5")
    assert first["peak"] == 340
    assert first["users"] == 3  # "a@x", "A@x", 7 (7.0 is the same JSON number)
    assert by_scan[3] == {key: 0 for key in first}


def _billed_totals() -> dict[str, D]:
    from invoices.models import Invoice

    return {i.customer.external_id: i.total for i in Invoice.objects.select_related("customer")}


def test_chunks_sharing_one_period_scan_bill_like_the_selector_path(settings):
    """Later chunks reuse the first chunk's scan of the period; totals must not change."""
    from invoices.models import Invoice
    from invoices.services.billing_run import billing_run
    from tests.invoices.billing_fixtures import team_version, worked_example

    version = team_version()
    for n in range(5):
        worked_example(external_id=f"chunk{n}", version=version, tasks=4000 + 700 * n)

    settings.BILLING_USAGE_SCAN_MIN_CUSTOMERS = 10**9
    run = billing_run(as_of=at(2026, 11, 1, 2), now=at(2026, 11, 1, 2), size=2)
    by_selector = _billed_totals()
    assert run.invoices_created == 5 and not run.failures
    Invoice.objects.all().delete()  # drafts only: the period can be billed again

    settings.BILLING_USAGE_SCAN_MIN_CUSTOMERS = 1
    run = billing_run(as_of=at(2026, 11, 1, 2), now=at(2026, 11, 1, 2), size=2)
    assert run.chunks_total == 3 and run.invoices_created == 5
    assert _billed_totals() == by_selector
    assert by_selector["chunk0"] == D("172.90")  # 4,000 tasks < 4,322 included: seats only
