"""The dashboard's reads: each metric per UTC day, exact like ``usage_totals`` for that day
however stale the rollups are, and the usage mix by seat, initiator, model and tier."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.measure import rollup_safety_margin
from usage.models import (
    Event,
    RollupWatermark,
    UsageBreakdown,
    UsageBreakdownDay,
    UsageRollup,
    UsageRollupDay,
)
from usage.rollups import rollup_usage
from usage.selectors import usage_totals
from usage.series import daily_values, days_of, usage_mix

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2026, 10, 5, 22, tzinfo=dt.UTC)  # ranges cross midnight
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
MARGIN_SECONDS = int(rollup_safety_margin().total_seconds())


def metrics():
    return [
        MetricFactory(code="calls", name="AI calls", event_type="ai.call", aggregation="count"),
        MetricFactory(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                      field="total_tokens"),
        MetricFactory(code="realtime", name="Realtime tokens", event_type="ai.call",
                      aggregation="sum", field="total_tokens",
                      filters={"latency_tier": "realtime"}),
        MetricFactory(code="largest", name="Largest call", event_type="ai.call",
                      aggregation="max", field="total_tokens"),
        MetricFactory(code="seats", name="Active seats", event_type="ai.call",
                      aggregation="unique_count", field="seat"),
        MetricFactory(code="tasks", name="Tasks", event_type="task.done", aggregation="count"),
    ]


def call(customer, at, *, received=None, **props):
    return EventFactory(customer=customer, event_type="ai.call", timestamp=at,
                        properties=props, received_at=received or at)


def test_days_of_a_range_are_the_utc_days_it_touches():
    assert days_of(BASE, BASE + 3 * HOUR) == [dt.date(2026, 10, 5), dt.date(2026, 10, 6)]
    assert days_of(BASE + 2 * HOUR, BASE + 26 * HOUR) == [dt.date(2026, 10, 6)]


def test_each_day_holds_its_rollup_rows_its_tail_and_its_edge_hours():
    acme, other = CustomerFactory(), CustomerFactory()
    chosen = metrics()
    midnight = BASE + 2 * HOUR  # 2026-10-06 00:00
    call(acme, BASE + 30 * MIN, total_tokens=10, seat="a", latency_tier="realtime")  # 5th
    call(acme, midnight + 3 * HOUR, total_tokens=5, seat="a", latency_tier="batch")  # 6th
    call(acme, midnight + 4 * HOUR, total_tokens=7, seat="b", latency_tier="realtime")
    call(acme, midnight + DAY + HOUR, total_tokens=1, seat="b")  # 7th
    call(other, midnight + 3 * HOUR, total_tokens=1000, seat="z")  # another customer
    rollup_usage(now=midnight + DAY + 5 * HOUR)
    # After the run: a late event in a rolled-up day (the tail) and one in the last,
    # partial hour (an edge), neither in any rollup row.
    call(acme, midnight + 5 * HOUR, received=midnight + DAY + 5 * HOUR + MIN,
         total_tokens=20, seat="c", latency_tier="realtime")
    call(acme, midnight + DAY + 5 * HOUR + 10 * MIN, total_tokens=2, seat="a")
    end = midnight + DAY + 5 * HOUR + 30 * MIN

    got = daily_values(customer=acme, start=BASE, end=end, metrics=chosen)

    days = [dt.date(2026, 10, 5), dt.date(2026, 10, 6), dt.date(2026, 10, 7)]
    assert got == {
        "calls": tuple(zip(days, [1, 3, 2], strict=True)),
        "tokens": tuple(zip(days, [10, 32, 3], strict=True)),
        "realtime": tuple(zip(days, [10, 27, 0], strict=True)),
        "largest": tuple(zip(days, [10, 20, 2], strict=True)),
        "seats": tuple(zip(days, [1, 3, 2], strict=True)),
        "tasks": tuple(zip(days, [0, 0, 0], strict=True)),
    }


def test_whole_days_are_read_from_day_rows_not_events():
    acme = CustomerFactory()
    tokens = metrics()[1]
    midnight = BASE + 2 * HOUR
    call(acme, midnight + HOUR, total_tokens=10)
    rollup_usage(now=midnight + 30 * HOUR)
    UsageRollupDay.objects.filter(customer=acme, metric=tokens).update(value=Decimal(99))

    got = daily_values(customer=acme, start=midnight, end=midnight + 2 * DAY, metrics=[tokens])

    assert got["tokens"] == ((midnight.date(), Decimal(99)), ((midnight + DAY).date(), 0))


def test_the_number_of_queries_does_not_grow_with_the_days():
    acme = CustomerFactory()
    chosen = metrics()
    for day in range(20):
        call(acme, BASE + day * DAY + 3 * HOUR, total_tokens=day, seat=f"s{day}")
    rollup_usage(now=BASE + 21 * DAY)

    with CaptureQueriesContext(connection) as short:
        daily_values(customer=acme, start=BASE, end=BASE + 2 * DAY, metrics=chosen)
    with CaptureQueriesContext(connection) as long:
        daily_values(customer=acme, start=BASE, end=BASE + 21 * DAY, metrics=chosen)

    assert len(long) == len(short)


# --- Property: every day equals usage_totals over that day ---------------------------------

moments = st.builds(lambda hour, second: BASE + dt.timedelta(hours=hour, seconds=second),
                    st.integers(-1, 60), st.integers(0, 3599))
events = st.tuples(
    st.sampled_from(["ai.call", "ai.call", "task.done"]),
    moments,
    st.fixed_dictionaries({}, optional={
        "total_tokens": st.one_of(st.integers(-5, 10**6), st.sampled_from(["12", "0.5", "x"])),
        "seat": st.sampled_from(["a", "b", 1, None]),
        "latency_tier": st.sampled_from(["realtime", "batch"]),
    }),
)
steps = st.lists(st.fixed_dictionaries({
    "advance": st.integers(0, 12 * 3600),
    "events": st.lists(events, max_size=5),
    "lag": st.integers(0, MARGIN_SECONDS - 1),
    "rollup": st.booleans(),
}), min_size=1, max_size=5)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=steps, start=moments, end=moments)
def test_every_day_equals_the_exact_total_of_that_day(steps, start, end):
    for model in (Event, UsageBreakdown, UsageBreakdownDay, UsageRollup, UsageRollupDay,
                  RollupWatermark):
        model.objects.all().delete()
    if start == end:
        return
    start, end = min(start, end), max(start, end)
    acme = CustomerFactory()
    chosen = metrics()
    clock, ids = BASE, itertools.count()
    for step in steps:
        clock += dt.timedelta(seconds=step["advance"])
        for event_type, timestamp, props in step["events"]:
            EventFactory(customer=acme, transaction_id=f"t{next(ids)}", event_type=event_type,
                         timestamp=timestamp, properties=props,
                         received_at=clock - dt.timedelta(seconds=step["lag"]))
        if step["rollup"]:
            rollup_usage(now=clock)

    got = daily_values(customer=acme, start=start, end=end, metrics=chosen)

    for n, day in enumerate(days_of(start, end)):
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        lo, hi = max(start, midnight), min(end, midnight + DAY)
        exact = usage_totals(customer=acme, start=lo, end=hi, metrics=chosen)
        assert {code: got[code][n] for code in got} == {
            code: (day, value) for code, value in exact.items()}


# --- The mix -------------------------------------------------------------------------------


def test_the_mix_counts_calls_tokens_and_events_by_each_dimension():
    acme = CustomerFactory()
    for seat, initiated_by, model, tier, tokens in [
        ("ann@acme.test", "user", "gpt", "realtime", 100),
        ("ann@acme.test", "user", "gpt", "batch", 50),
        ("bot-7", "agent", "claude", "realtime", 400),
        ("", "schedule", "claude", "batch", 1),
    ]:
        EventFactory(customer=acme, event_type="ai.call", timestamp=BASE + 3 * HOUR,
                     seat=seat, model=model,
                     properties={"total_tokens": tokens, "initiated_by": initiated_by,
                                 "latency_tier": tier})
    EventFactory(customer=acme, event_type="task.done", timestamp=BASE + 3 * HOUR,
                 seat="ann@acme.test")
    rollup_usage(now=BASE + 5 * HOUR)
    EventFactory(customer=acme, event_type="ai.call", timestamp=BASE + 4 * HOUR + MIN,
                 seat="bot-7", properties={"total_tokens": 1, "initiated_by": "agent"})

    mix = usage_mix(customer=acme, start=BASE, end=BASE + 4 * HOUR + 30 * MIN)

    assert (mix.events, mix.calls, mix.tokens) == (6, 5, 552)
    rows = {d: [(r.member, r.calls, r.tokens, r.events) for r in found]
            for d, found in mix.by.items()}
    assert rows == {
        "seat": [("bot-7", 2, 401, 2), ("ann@acme.test", 2, 150, 3)],
        "initiated_by": [("agent", 2, 401, 2), ("user", 2, 150, 2), ("schedule", 1, 1, 1)],
        "model": [("claude", 2, 401, 2), ("gpt", 2, 150, 2)],
        "latency_tier": [("realtime", 2, 500, 2), ("batch", 2, 51, 2)],
    }
