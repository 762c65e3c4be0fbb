"""The window scan (many customers over one window, events read once) gives the values of
``charge_usage_many``, on SQLite and PostgreSQL alike."""

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.rollups import rollup_usage
from usage.selectors import Measure, charge_usage_many, usage_window_values

pytestmark = pytest.mark.django_db

START, END = dt.datetime(2026, 10, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
WHEN = dt.datetime(2026, 10, 3, 12, 30, tzinfo=dt.UTC)


@pytest.fixture
def charges():
    tasks = MetricFactory(code="tasks", event_type="task.completed", aggregation="count")
    tokens = MetricFactory(code="tokens", event_type="ai.call", aggregation="sum",
                           field="total_tokens")
    tokens_rt = MetricFactory(code="tokens_rt", event_type="ai.call", aggregation="sum",
                              field="total_tokens", filters={"latency_tier": "realtime"})
    peak = MetricFactory(code="peak", event_type="ai.call", aggregation="max", field="latency_ms")
    users = MetricFactory(code="users", event_type="ai.call", aggregation="unique_count",
                          field="seat")
    return [("tasks", tasks, {}), ("tokens", tokens, {}),
            ("tokens_gpt", tokens, {"model": "gpt-4.1-mini"}), ("tokens_rt", tokens_rt, {}),
            ("peak", peak, {}), ("users", users, {})]


def awkward_events(customer, n: int) -> None:
    for i in range(3 + n):
        EventFactory(customer=customer, timestamp=WHEN + dt.timedelta(seconds=i))
    for props in (
        {"total_tokens": 1500, "latency_tier": "realtime", "model": "gpt-4.1-mini",
         "latency_ms": 120, "seat": "a@x"},
        {"total_tokens": "12", "latency_tier": "batch", "model": "gpt-4.1-mini", "seat": "A@x"},
        {"total_tokens": 1.5, "latency_tier": "realtime", "latency_ms": "340", "seat": 7},
        {"total_tokens": "abc", "latency_ms": "fast", "seat": 7.0},
        {"total_tokens": True, "seat": None},
        {"total_tokens": "1e3", "model": "other", "latency_ms": -5},
    ):
        EventFactory(customer=customer, event_type="ai.call", timestamp=WHEN, properties=props)
    for outside in (END, START - dt.timedelta(minutes=1)):
        EventFactory(customer=customer, event_type="ai.call", timestamp=outside,
                     properties={"total_tokens": 999})


def test_window_values_equal_the_per_customer_reads(charges):
    customers = [CustomerFactory() for _ in range(4)]
    for n, customer in enumerate(customers[:3]):
        awkward_events(customer, n)  # the fourth has no events at all
    rollup_usage(now=END)  # per-customer reads use rollups; the scan never does
    measures = {key: Measure.of(metric, filters) for key, metric, filters in charges}
    ids = [c.pk for c in customers]

    scanned = usage_window_values(start=START, end=END, measures=list(measures.values()),
                                  customer_lo=min(ids), customer_hi=max(ids))
    per_customer = charge_usage_many(customer_ids=ids, start=START, end=END, charges=charges)

    for customer in customers:
        values = scanned.get(customer.pk, {})
        assert {key: values.get(m, D(0)) for key, m in measures.items()} == per_customer[
            customer.pk]
    assert customers[3].pk not in scanned
    first = per_customer[customers[0].pk]
    assert first == {"tasks": 3, "tokens": D("2513.5"), "tokens_gpt": D("1512"),
                     "tokens_rt": D("1501.5"), "peak": 340, "users": 3}


def test_window_values_keep_to_the_customer_range(charges):
    inside, outside = CustomerFactory(), CustomerFactory()
    for customer in (inside, outside):
        EventFactory(customer=customer, timestamp=WHEN)
    tasks = Measure.of(charges[0][1])

    scanned = usage_window_values(start=START, end=END, measures=[tasks],
                                  customer_lo=inside.pk, customer_hi=inside.pk)

    assert scanned == {inside.pk: {tasks: 1}}
