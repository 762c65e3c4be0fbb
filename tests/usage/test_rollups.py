import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.aggregation import json_key
from usage.measure import WATERMARK_NAME, rollup_safety_margin
from usage.models import (
    RollupWatermark,
    UsageBreakdown,
    UsageBreakdownDay,
    UsageRollup,
    UsageRollupDay,
)
from usage.rollups import rollup_hours, rollup_rebuild, rollup_usage
from usage.selectors import rollup_watermark, usage_totals

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
MIN = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def metrics():
    return {
        "calls": MetricFactory(code="calls", event_type="ai.call", aggregation="count"),
        "tokens_rt": MetricFactory(
            code="tokens_rt", event_type="ai.call", aggregation="sum", field="total_tokens",
            filters={"latency_tier": "realtime"},
        ),
        "peak": MetricFactory(code="peak", event_type="ai.call", aggregation="max", field="total_tokens"),
        "users": MetricFactory(code="users", event_type="ai.call", aggregation="unique_count", field="user"),
        "tasks": MetricFactory(code="tasks", event_type="task.completed", aggregation="count"),
    }


def call(customer, at, *, received=None, **props):
    return EventFactory(
        customer=customer, event_type="ai.call", timestamp=at, properties=props,
        received_at=received or at, provider_cost=Decimal(props.pop("cost", "0")),
    )


def rows(customer):
    return {
        (r.metric.code, r.hour): r
        for r in UsageRollup.objects.filter(customer=customer).select_related("metric")
    }


def test_rollup_aggregates_every_metric_per_customer_and_hour(metrics):
    acme, other = CustomerFactory(), CustomerFactory()
    call(acme, T0 + MIN, total_tokens=100, latency_tier="realtime", user="a", cost="0.001")
    call(acme, T0 + 2 * MIN, total_tokens=250, latency_tier="batch", user="b", cost="0.002")
    call(acme, T0 + 3 * MIN, total_tokens=50, latency_tier="realtime", user="a")
    call(acme, T0 + HOUR, total_tokens=7, latency_tier="realtime", user=None)
    EventFactory(customer=acme, event_type="task.completed", timestamp=T0 + 59 * MIN)
    call(other, T0 + MIN, total_tokens=1000, latency_tier="realtime", user="z")

    groups = rollup_usage(now=T0 + 3 * HOUR)

    assert groups == 4  # (acme, 12h, ai.call), (acme, 12h, task), (acme, 13h, ai.call), (other, …)
    got = rows(acme)
    assert {key: (r.value, r.event_count) for key, r in got.items()} == {
        ("calls", T0): (3, 3),
        ("tokens_rt", T0): (150, 2),
        ("peak", T0): (250, 3),
        ("users", T0): (2, 3),
        ("tasks", T0): (1, 1),
        ("calls", T0 + HOUR): (1, 1),
        ("tokens_rt", T0 + HOUR): (7, 1),
        ("peak", T0 + HOUR): (7, 1),
        ("users", T0 + HOUR): (0, 1),
    }
    assert got[("users", T0)].distinct_values == ["a", "b"]
    assert got[("users", T0 + HOUR)].distinct_values == []
    assert got[("calls", T0)].provider_cost == Decimal("0.003")
    assert got[("tokens_rt", T0)].provider_cost == Decimal("0.001")
    assert got[("tasks", T0)].distinct_values is None
    assert rows(other)[("tokens_rt", T0)].value == 1000


def test_running_again_recomputes_instead_of_adding(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=10, latency_tier="realtime")
    rollup_usage(now=T0 + HOUR)
    # The watermark overlap re-reads the same event: a recompute gives the same rows.
    rollup_usage(now=T0 + HOUR + MIN)
    rollup_hours(customer_id=acme.pk, hours=[T0 + 5 * MIN])
    got = rows(acme)
    assert got[("calls", T0)].value == 1
    assert got[("tokens_rt", T0)].value == 10
    assert UsageRollup.objects.filter(customer=acme).count() == 4


def test_late_event_with_an_old_timestamp_updates_its_old_hour(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=10, latency_tier="realtime")
    rollup_usage(now=T0 + HOUR)
    call(acme, T0 + 30 * MIN, received=T0 + 5 * HOUR, total_tokens=5, latency_tier="realtime")

    rollup_usage(now=T0 + 6 * HOUR)

    assert rows(acme)[("tokens_rt", T0)].value == 15
    assert rows(acme)[("calls", T0)].value == 2


def test_event_received_before_a_run_but_committed_after_it_is_rolled_up_a_margin_later(metrics):
    acme = CustomerFactory()
    rollup_usage(now=T0 + HOUR)
    # received_at is taken before the ingest transaction commits, so a run at T0+1h can
    # miss an event stamped T0+1h-1min: runs only roll up what was received a safety
    # margin before them, and leave the rest to readers as raw events.
    call(acme, T0, received=T0 + HOUR - MIN, total_tokens=3, latency_tier="realtime")

    rollup_usage(now=T0 + HOUR + 2 * MIN)
    assert ("tokens_rt", T0) not in rows(acme)
    assert usage_totals(customer=acme, start=T0, end=T0 + HOUR)["tokens_rt"] == 3

    rollup_usage(now=T0 + HOUR + rollup_safety_margin())
    assert rows(acme)[("tokens_rt", T0)].value == 3


def test_rows_hold_only_events_received_a_margin_before_the_run(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=1)
    call(acme, T0 + MIN, received=T0 + HOUR - MIN, total_tokens=2)

    rollup_usage(now=T0 + HOUR)

    assert rows(acme)[("peak", T0)].value == 1
    assert rows(acme)[("calls", T0)].event_count == 1


def test_watermark_advances_to_now_and_never_moves_back(metrics):
    assert rollup_watermark() is None
    rollup_usage(now=T0)
    assert rollup_watermark() == T0
    assert RollupWatermark.objects.get(name=WATERMARK_NAME).received_until == T0
    rollup_usage(now=T0 - HOUR)
    assert RollupWatermark.objects.get(name=WATERMARK_NAME).received_until == T0


def test_max_ignores_events_without_a_number_and_unique_count_ignores_missing_and_null(metrics):
    acme = CustomerFactory()
    call(acme, T0, user="a")
    call(acme, T0 + MIN, user=None)
    call(acme, T0 + 2 * MIN, user=1)
    call(acme, T0 + 3 * MIN, user=1.0)
    call(acme, T0 + 4 * MIN)
    rollup_usage(now=T0 + HOUR)
    got = rows(acme)
    assert ("peak", T0) not in got  # no event carries a number
    assert got[("users", T0)].value == 2
    # 1 and 1.0 are one JSON value; either spelling may be the one kept.
    assert {json_key(v) for v in got[("users", T0)].distinct_values} == {json_key(1), json_key("a")}


def test_recompute_drops_rows_a_metric_no_longer_matches(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=10, latency_tier="realtime")
    rollup_usage(now=T0 + HOUR)
    metric = metrics["tokens_rt"]
    metric.filters = {"latency_tier": "batch"}
    metric.save()

    rollup_hours(customer_id=acme.pk, hours=[T0])

    assert ("tokens_rt", T0) not in rows(acme)
    assert ("calls", T0) in rows(acme)


def test_rebuild_applies_a_metric_created_after_its_events(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=10, model="gpt")
    call(acme, T0 + 2 * HOUR, total_tokens=20, model="gpt")
    rollup_usage(now=T0 + 3 * HOUR)
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="total_tokens")
    rollup_usage(now=T0 + 4 * HOUR)
    assert ("tokens", T0) not in rows(acme)  # the job only reads what arrived

    rollup_rebuild()

    got = rows(acme)
    assert got[("tokens", T0)].value == 10
    assert got[("tokens", T0 + 2 * HOUR)].value == 20
    assert got[("calls", T0)].value == 1


def test_rebuild_of_one_customer_leaves_the_others_alone(metrics):
    acme, other = CustomerFactory(), CustomerFactory()
    call(acme, T0, total_tokens=1)
    call(other, T0, total_tokens=1)
    rollup_usage(now=T0 + HOUR)
    UsageRollup.objects.filter(customer=other).update(value=99)

    rollup_rebuild(customer_id=acme.pk)

    assert rows(other)[("calls", T0)].value == 99
    assert rows(acme)[("calls", T0)].value == 1


def test_first_run_rolls_up_everything_received_before_it(metrics):
    acme = CustomerFactory()
    call(acme, T0 - 30 * 24 * HOUR, total_tokens=1)
    rollup_usage(now=T0)
    assert rows(acme)[("calls", T0 - 30 * 24 * HOUR)].value == 1


def test_rollup_task_runs_the_service_with_the_current_time(metrics):
    from usage.tasks import rollup_usage as task

    acme = CustomerFactory()
    call(acme, T0, total_tokens=4)
    with time_machine.travel(T0 + HOUR, tick=False):
        task.delay()
    assert rows(acme)[("peak", T0)].value == 4
    assert RollupWatermark.objects.get(name=WATERMARK_NAME).received_until == T0 + HOUR


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_and_ingestion_leave_exact_rollups():
    import threading

    from django.db import connection
    from django.utils import timezone

    from usage.aggregation import aggregate
    from usage.measure import metric_rule
    from usage.models import Event

    metric = MetricFactory(code="tokens", event_type="ai.call", aggregation="sum",
                           field="total_tokens")
    acme = CustomerFactory()
    errors = []

    def insert(worker):
        try:
            for i in range(30):
                # Real clocks on both sides, as in production: each insert commits well
                # within the safety margin of its received_at.
                call(acme, T0 + (i % 5) * HOUR, received=timezone.now(),
                     total_tokens=worker * 100 + i)
        except Exception as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            connection.close()

    def roll(worker):
        try:
            for _ in range(10):
                rollup_usage(now=timezone.now())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert, args=(w,)) for w in range(2)]
    threads += [threading.Thread(target=roll, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    events = list(Event.objects.values("event_type", "timestamp", "properties"))
    start, end = T0 - HOUR, T0 + 6 * HOUR
    expected = aggregate(events, metric_rule(metric), start=start, end=end)
    assert usage_totals(customer=acme, start=start, end=end)["tokens"] == expected
    # Once a margin has passed since the last event was received, the rows hold them all.
    rollup_usage(now=timezone.now() + rollup_safety_margin())
    assert sum(r.value for r in UsageRollup.objects.filter(customer=acme)) == expected


def day_rows(customer):
    return {
        (r.metric.code, r.day): r
        for r in UsageRollupDay.objects.filter(customer=customer).select_related("metric")
    }


def test_day_rows_hold_the_sum_of_their_hour_rows(metrics):
    acme = CustomerFactory()
    midnight = T0.replace(hour=0)
    call(acme, T0, total_tokens=100, latency_tier="realtime", user="a", cost="0.001")
    call(acme, T0 + HOUR, total_tokens=7, latency_tier="realtime", user="b", cost="0.002")
    call(acme, T0 + 3 * HOUR, total_tokens=250, latency_tier="batch", user="a")
    call(acme, T0 + 13 * HOUR, total_tokens=5, user="c")  # 01:00 the next day

    rollup_usage(now=T0 + 30 * HOUR)

    got = day_rows(acme)
    assert {key: (r.value, r.event_count) for key, r in got.items()} == {
        ("calls", midnight): (3, 3), ("tokens_rt", midnight): (107, 2),
        ("peak", midnight): (250, 3), ("users", midnight): (2, 3),
        ("calls", midnight + DAY): (1, 1), ("peak", midnight + DAY): (5, 1),
        ("users", midnight + DAY): (1, 1),
    }
    assert got[("users", midnight)].distinct_values == ["a", "b"]
    assert got[("calls", midnight)].provider_cost == Decimal("0.003")
    hours = UsageBreakdown.objects.filter(customer=acme, hour__lt=midnight + DAY, dimension="")
    day = UsageBreakdownDay.objects.get(customer=acme, day=midnight, dimension="")
    assert day.events == sum(h.events for h in hours) == 3
    assert day.total_tokens == 357
    assert UsageBreakdownDay.objects.get(customer=acme, day=midnight, dimension="latency_tier",
                                         member="realtime").events == 2


def test_a_late_event_rewrites_its_day_row_and_a_dropped_metric_leaves_it(metrics):
    acme = CustomerFactory()
    midnight = T0.replace(hour=0)
    call(acme, T0, total_tokens=10, latency_tier="realtime")
    rollup_usage(now=T0 + HOUR)
    call(acme, T0 + 5 * HOUR, received=T0 + 6 * HOUR, total_tokens=5, latency_tier="realtime")
    rollup_usage(now=T0 + 7 * HOUR)
    assert day_rows(acme)[("tokens_rt", midnight)].value == 15

    metric = metrics["tokens_rt"]
    metric.filters = {"latency_tier": "batch"}
    metric.save()
    rollup_hours(customer_id=acme.pk, hours=[T0, T0 + 5 * HOUR])

    assert ("tokens_rt", midnight) not in day_rows(acme)
    assert day_rows(acme)[("calls", midnight)].value == 2


def test_rebuild_rewrites_the_day_rows(metrics):
    acme = CustomerFactory()
    call(acme, T0, total_tokens=1)
    rollup_usage(now=T0 + HOUR)
    UsageRollupDay.objects.filter(customer=acme).update(value=99)

    rollup_rebuild(customer_id=acme.pk)

    assert day_rows(acme)[("calls", T0.replace(hour=0))].value == 1
