"""usage.demo.load_usage_demo: prices plus a realistic, idempotent month of events."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.factories import CustomerFactory, SeatFactory
from usage.demo import DEMO_PRICES, load_usage_demo
from usage.models import Event, ModelPrice

TODAY = dt.date(2026, 11, 15)
pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    acme = CustomerFactory(external_id="acme")
    for n in range(6):
        SeatFactory(customer=acme, email=f"user{n}@acme.test")
    globex = CustomerFactory(external_id="globex")
    gone = CustomerFactory(external_id="gone", archived=True)
    return {c.external_id: c for c in (acme, globex, gone)}


def test_loads_prices_and_events_then_nothing_on_a_second_run(customers):
    first = load_usage_demo(today=TODAY, customers=customers)
    assert first["model prices"] == len(DEMO_PRICES) == ModelPrice.objects.count()
    assert 200 < first["usage events"] == Event.objects.count() < 1500
    assert load_usage_demo(today=TODAY, customers=customers) == Counter()
    assert Event.objects.count() == first["usage events"]


def test_events_are_realistic_and_inside_the_month_before_today(customers):
    load_usage_demo(today=TODAY, customers=customers)
    events = Event.objects.all()
    assert {e.customer_id for e in events} == {customers["acme"].pk, customers["globex"].pk}
    midnight = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    assert all(midnight - dt.timedelta(days=28) <= e.timestamp < midnight for e in events)
    calls = [e for e in events if e.event_type == "ai.call"]
    assert {"gpt-4.1-mini", "claude-sonnet-4"} <= {e.model for e in calls}
    assert {e.seat for e in calls if e.customer_id == customers["acme"].pk} > {""}
    priced = [e for e in calls if not e.unpriced]
    assert priced and all(e.provider_cost > 0 for e in priced)
    assert {e.model for e in calls if e.unpriced} <= {"llama-3.1-70b"}
    assert any(e.event_type == "task.completed" for e in events)
