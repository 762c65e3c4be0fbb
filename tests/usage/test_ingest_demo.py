"""usage.demo.load_usage_demo: prices plus realistic, idempotent events up to now, rolled up."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, SeatFactory
from usage.demo import DEMO_PRICES, load_usage_demo
from usage.models import Event, ModelPrice, UsageBreakdown
from usage.selectors import rollup_watermark

TODAY = dt.date(2026, 11, 15)
pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    acme = CustomerFactory(external_id="acme")
    for n in range(6):
        SeatFactory(customer=acme, email=f"user{n}@acme.test")
    globex = CustomerFactory(external_id="globex")
    SeatFactory(customer=globex, email="solo@globex.test")
    gone = CustomerFactory(external_id="gone", archived=True)
    return {c.external_id: c for c in (acme, globex, gone)}


def test_loads_prices_and_events_then_nothing_on_a_second_run(customers):
    first = load_usage_demo(today=TODAY, customers=customers)
    assert first["model prices"] == len(DEMO_PRICES) == ModelPrice.objects.count()
    assert 200 < first["usage events"] == Event.objects.count() < 2000
    assert load_usage_demo(today=TODAY, customers=customers) == Counter()
    assert Event.objects.count() == first["usage events"]


def test_events_are_realistic_and_dated_from_a_month_back_to_the_end_of_today(customers):
    load_usage_demo(today=TODAY, customers=customers)
    events = Event.objects.all()
    assert {e.customer_id for e in events} == {customers["acme"].pk, customers["globex"].pk}
    # No contract: the default profile's one period of history is the month before today;
    # today is in the past, so its events run to its end.
    start, end = dt.datetime(2026, 10, 15, tzinfo=dt.UTC), dt.datetime(2026, 11, 16, tzinfo=dt.UTC)
    assert all(start <= e.timestamp < end for e in events)
    assert any(e.timestamp.date() == TODAY for e in events)
    calls = [e for e in events if e.event_type == "ai.call"]
    assert {"gpt-4.1-mini", "claude-haiku-3.5"} <= {e.model for e in calls}
    assert {e.seat for e in calls if e.customer_id == customers["acme"].pk} > {""}
    priced = [e for e in calls if not e.unpriced]
    assert priced and all(e.provider_cost > 0 for e in priced)
    assert {e.model for e in calls if e.unpriced} <= {"llama-3.1-70b"}
    assert any(e.event_type == "task.completed" for e in events)


def test_events_arrive_after_they_happen_and_are_rolled_up(customers):
    load_usage_demo(today=TODAY, customers=customers)

    assert all(e.timestamp < e.received_at <= timezone.now() for e in Event.objects.all())
    assert rollup_watermark() is not None
    assert UsageBreakdown.objects.filter(customer=customers["acme"]).exists()  # no metrics here
