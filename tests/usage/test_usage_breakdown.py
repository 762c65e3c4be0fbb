"""Breakdowns (by model, seat, latency tier, initiated_by, day) read from the breakdown
rollups and equal grouping the raw events, however stale the rollups are."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CustomerFactory, EventFactory
from usage.aggregation import SliceTotals, slice_keys
from usage.measure import rollup_safety_margin
from usage.models import (
    Event,
    RollupWatermark,
    UsageBreakdown,
    UsageBreakdownDay,
    UsageRollup,
    UsageRollupDay,
)
from usage.rollups import rollup_hours, rollup_rebuild, rollup_usage
from usage.selectors import BREAKDOWN_DIMENSIONS, usage_breakdown, usage_slices

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2026, 10, 5, 22, tzinfo=dt.UTC)  # ranges cross midnight
HOURS = 30
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
MARGIN_SECONDS = int(rollup_safety_margin().total_seconds())


def reference(events, dimension, start, end) -> dict[tuple[str, str], SliceTotals]:
    """Groups raw events the way the breakdown rollups promise to."""
    found: dict[tuple[str, str], SliceTotals] = {}
    for event in events:
        if not start <= event["timestamp"] < end:
            continue
        for stored, member in slice_keys(event):
            if dimension == "day" and stored == "":
                member = event["timestamp"].astimezone(dt.UTC).date().isoformat()
            elif stored != dimension:
                continue
            found.setdefault((member, event["event_type"]), SliceTotals()).add_event(event)
    return found


def as_reference(slices) -> dict[tuple[str, str], tuple]:
    return {(s.member, s.event_type): (s.events, s.input_tokens, s.output_tokens,
                                       s.total_tokens, s.cost, s.unpriced) for s in slices}


def expected(events, dimension, start, end) -> dict[tuple[str, str], tuple]:
    return {key: (t.events, t.input_tokens, t.output_tokens, t.total_tokens, t.cost, t.unpriced)
            for key, t in reference(events, dimension, start, end).items()}


def raw_events():
    return list(Event.objects.values("customer_id", "event_type", "timestamp", "model", "seat",
                                     "properties", "provider_cost", "unpriced"))


# --- Property ------------------------------------------------------------------------------

tokens = st.one_of(st.integers(0, 10**6), st.decimals(0, 10**3, places=3).map(float),
                   st.sampled_from(["12", "0.5", "x", None, True]))
properties = st.fixed_dictionaries({}, optional={
    "input_tokens": tokens, "output_tokens": tokens, "total_tokens": tokens,
    "latency_tier": st.sampled_from(["realtime", "batch", "", 1, True, None, ["realtime"]]),
    "initiated_by": st.sampled_from(["user", "agent", "x" * 300]),
})
moments = st.builds(lambda hour, second: BASE + dt.timedelta(hours=hour, seconds=second),
                    st.integers(-1, HOURS), st.integers(0, 3599))
events = st.tuples(
    st.integers(0, 1),
    st.sampled_from(["ai.call", "ai.call", "task.done"]),
    moments,
    st.sampled_from(["", "gpt", "claude"]),
    st.sampled_from(["", "a@x.test", "b@x.test"]),
    st.sampled_from([Decimal(0), Decimal("0.000125"), Decimal("1.5")]),
    st.booleans(),
    properties,
)
steps = st.lists(st.fixed_dictionaries({
    "advance": st.integers(0, 5 * 3600),
    "events": st.lists(events, max_size=5),
    "lag": st.integers(0, MARGIN_SECONDS - 1),
    "then": st.sampled_from(["nothing", "rollup", "rollup", "rollup_hours", "rebuild"]),
    "hours": st.lists(st.integers(-1, HOURS), max_size=3),
}), min_size=1, max_size=5)
ranges = st.lists(st.tuples(moments, moments), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(steps=steps, ranges=ranges, dimension=st.sampled_from(BREAKDOWN_DIMENSIONS))
def test_breakdowns_equal_grouping_the_raw_events_however_stale_the_rollups(
        steps, ranges, dimension):
    for model in (Event, UsageBreakdown, UsageBreakdownDay, UsageRollup, UsageRollupDay,
                  RollupWatermark):
        model.objects.all().delete()
    customers = [CustomerFactory(), CustomerFactory()]
    clock = BASE
    ids = itertools.count()
    for step in steps:
        clock += dt.timedelta(seconds=step["advance"])
        received = clock - dt.timedelta(seconds=step["lag"])
        for who, event_type, timestamp, model, seat, cost, unpriced, props in step["events"]:
            EventFactory(customer=customers[who], transaction_id=f"t{next(ids)}",
                         event_type=event_type, timestamp=timestamp, model=model, seat=seat,
                         provider_cost=cost, unpriced=unpriced, properties=props,
                         received_at=received)
        if step["then"] == "rollup":
            rollup_usage(now=clock)
        elif step["then"] == "rollup_hours":
            rollup_hours(customer_id=customers[0].pk,
                         hours=[BASE + h * HOUR for h in step["hours"]])
        elif step["then"] == "rebuild":
            rollup_rebuild(customer_id=customers[1].pk)

    raw = raw_events()
    for a, b in ranges:
        if a == b:
            continue
        start, end = min(a, b), max(a, b)
        for customer in customers:
            mine = [e for e in raw if e["customer_id"] == customer.pk]
            got = usage_slices(customer=customer, start=start, end=end, dimension=dimension)
            assert as_reference(got) == expected(mine, dimension, start, end)


# --- Examples ------------------------------------------------------------------------------


def call(customer, at, *, model="gpt", seat="", cost="0", received=None, **props):
    return EventFactory(customer=customer, event_type="ai.call", timestamp=at, model=model,
                        seat=seat, provider_cost=Decimal(cost), properties=props,
                        received_at=received or at)


def test_whole_hours_are_read_from_the_breakdown_rollups():
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR, seat="a@x.test", cost="0.5", total_tokens=10)
    rollup_usage(now=BASE + 5 * HOUR)
    # Tampered rows are trusted for whole hours: the read uses them, not the events.
    UsageBreakdown.objects.filter(customer=acme, dimension="seat").update(events=7)

    got = usage_slices(customer=acme, start=BASE, end=BASE + 4 * HOUR, dimension="seat")

    assert [(s.member, s.events, s.total_tokens, s.cost) for s in got] == [
        ("a@x.test", 7, 10, Decimal("0.5"))]


def test_whole_days_are_read_from_day_rows():
    acme = CustomerFactory()
    midnight = BASE + 2 * HOUR
    call(acme, midnight + HOUR, seat="a@x.test", total_tokens=10)
    call(acme, midnight + 25 * HOUR, seat="a@x.test", total_tokens=1)
    rollup_usage(now=midnight + 30 * HOUR)
    UsageBreakdownDay.objects.filter(customer=acme, dimension="seat").update(events=7)

    got = usage_slices(customer=acme, start=midnight, end=midnight + 26 * HOUR,
                       dimension="seat")

    assert [(s.member, s.events, s.total_tokens) for s in got] == [("a@x.test", 8, 11)]


def test_events_received_after_the_cutoff_and_edge_hours_are_read_raw():
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR, latency_tier="realtime", total_tokens=10)
    rollup_usage(now=BASE + 5 * HOUR)
    call(acme, BASE + 2 * HOUR + 30 * MIN, received=BASE + 5 * HOUR + MIN,
         latency_tier="realtime", total_tokens=5)  # after the run: no row holds it
    call(acme, BASE + 3 * HOUR + 10 * MIN, latency_tier="batch", total_tokens=1)  # edge

    got = usage_slices(customer=acme, start=BASE, end=BASE + 3 * HOUR + 30 * MIN,
                       dimension="latency_tier")

    assert [(s.member, s.events, s.total_tokens) for s in got] == [
        ("realtime", 2, 15), ("batch", 1, 1)]


def test_days_are_utc_days_in_order():
    acme = CustomerFactory()
    call(acme, BASE + HOUR, cost="1")  # 23:00 on the 5th
    call(acme, BASE + 3 * HOUR, cost="2")  # 01:00 on the 6th
    EventFactory(customer=acme, event_type="task.done", timestamp=BASE + 4 * HOUR)
    rollup_usage(now=BASE + 10 * HOUR)

    got = usage_slices(customer=acme, start=BASE, end=BASE + 6 * HOUR, dimension="day")

    assert [(s.member, s.event_type, s.events, s.cost) for s in got] == [
        ("2026-10-05", "ai.call", 1, 1), ("2026-10-06", "ai.call", 1, 2),
        ("2026-10-06", "task.done", 1, 0)]
    assert [s.member for s in usage_slices(customer=acme, start=BASE, end=BASE + 6 * HOUR,
                                           dimension="day", event_type="task.done")] == [
        "2026-10-06"]


def test_breakdown_counts_ai_calls_by_model_and_seat_from_rollups():
    acme = CustomerFactory()
    call(acme, BASE, model="gpt", seat="a@x.test", cost="0.25", input_tokens=100,
         output_tokens=20)
    call(acme, BASE + MIN, model="claude", seat="a@x.test", cost="1", total_tokens=7)
    EventFactory(customer=acme, event_type="task.done", timestamp=BASE, seat="b@x.test")
    rollup_usage(now=BASE + 2 * HOUR)

    got = usage_breakdown(customer=acme, start=BASE, end=BASE + HOUR)

    assert got.total == Decimal("1.25")
    assert [(m.model, m.calls, m.input_tokens, m.output_tokens, m.cost) for m in got.by_model] == [
        ("claude", 1, 0, 0, 1), ("gpt", 1, 100, 20, Decimal("0.25"))]
    assert [(s.seat, s.calls, s.total_tokens, s.cost) for s in got.by_seat] == [
        ("a@x.test", 2, 127, Decimal("1.25"))]  # the task's seat is not an AI call


def test_unknown_dimension_is_an_error():
    with pytest.raises(ValueError, match="dimension must be one of"):
        usage_slices(customer=CustomerFactory(), start=BASE, end=BASE + HOUR, dimension="colour")
