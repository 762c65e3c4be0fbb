import datetime as dt
import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans.models import Metric
from tests.factories import CustomerFactory, EventFactory, MetricFactory
from usage.aggregation import aggregate
from usage.measure import metric_rule, rollup_safety_margin
from usage.models import Event, RollupWatermark, UsageRollup, UsageRollupDay
from usage.rollups import rollup_hours, rollup_usage
from usage.selectors import (
    ChargeUsage,
    charge_usage,
    charge_usage_many,
    usage_breakdown,
    usage_totals,
)

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2026, 10, 5, tzinfo=dt.UTC)
HOURS = 30
HOUR = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)
MARGIN_SECONDS = int(rollup_safety_margin().total_seconds())

METRICS = [
    {"code": "calls", "event_type": "ai.call", "aggregation": "count"},
    {"code": "calls_rt", "event_type": "ai.call", "aggregation": "count", "filters": {"tier": "rt"}},
    {"code": "tokens", "event_type": "ai.call", "aggregation": "sum", "field": "tokens"},
    {"code": "tokens_n1", "event_type": "ai.call", "aggregation": "sum", "field": "tokens",
     "filters": {"n": 1}},
    {"code": "peak", "event_type": "ai.call", "aggregation": "max", "field": "tokens"},
    {"code": "users", "event_type": "ai.call", "aggregation": "unique_count", "field": "user"},
    {"code": "tasks", "event_type": "task.done", "aggregation": "count"},
    {"code": "docs", "event_type": "task.done", "aggregation": "unique_count", "field": "user",
     "filters": {"tier": "batch"}},
    {"code": "task_max", "event_type": "task.done", "aggregation": "max", "field": "tokens"},
]
CHARGES = [
    ("calls_rt_n1", "calls_rt", {"n": 1}),
    ("tokens_batch", "tokens", {"tier": "batch"}),
    ("users_rt", "users", {"tier": "rt"}),
    ("peak_plain", "peak", {}),
    ("calls_rt_again", "calls_rt", {"tier": "rt"}),  # implied by the metric: reads rollups
]


@pytest.fixture
def metrics():
    return [MetricFactory(name=m["code"], **m) for m in METRICS]


def reference(events, metric, start, end, extra=None):
    return aggregate(events, metric_rule(metric, extra), start=start, end=end)


def raw_events():
    return list(Event.objects.values("customer_id", "event_type", "timestamp", "properties"))


# --- Property: usage_totals always equals aggregating the raw events -------------------

numbers = st.one_of(
    st.integers(0, 10**6),
    # Few decimal places: SQLite keeps 15 significant digits in decimal columns.
    st.decimals(min_value=0, max_value=10**4, places=4).map(float),
    st.sampled_from(["12", "0.5", "x", "", None, True, [1]]),
)
properties = st.fixed_dictionaries(
    {},
    optional={
        "tier": st.sampled_from(["rt", "batch", "RT", 1, True, None]),
        "tokens": numbers,
        "user": st.sampled_from(["a", "b", "c", 1, 1.0, 2, "1", True, None, ["a"], {"k": 1}]),
        "n": st.sampled_from([1, 1.0, "1", True, 2]),
    },
)
seconds_in_hour = st.one_of(st.sampled_from([0, 1, 1800, 3599]), st.integers(0, 3599))
moments = st.builds(
    lambda hour, second: BASE + dt.timedelta(hours=hour, seconds=second),
    st.integers(-1, HOURS), seconds_in_hour,
)
events = st.tuples(
    st.integers(0, 1),  # which customer
    st.sampled_from(["ai.call", "ai.call", "task.done", "other"]),
    moments,
    properties,
)
steps = st.lists(
    st.fixed_dictionaries({
        "advance": st.integers(0, 5 * 3600),  # seconds the clock moves before the batch
        "events": st.lists(events, max_size=6),
        # received_at lags the clock by less than the safety margin: the ingest contract
        "lag": st.integers(0, MARGIN_SECONDS - 1),
        "then": st.sampled_from(["nothing", "rollup", "rollup", "rollup_hours"]),
        "hours": st.lists(st.integers(-1, HOURS), max_size=3),
    }),
    min_size=1, max_size=6,
)
ranges = st.lists(st.tuples(moments, moments), min_size=1, max_size=4)


@settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
@given(steps=steps, ranges=ranges)
def test_usage_totals_equal_raw_aggregation_however_stale_the_rollups(metrics, steps, ranges):
    for model in (Event, UsageRollup, UsageRollupDay, RollupWatermark):
        model.objects.all().delete()
    customers = [CustomerFactory(), CustomerFactory()]
    clock = BASE
    ids = itertools.count()
    for step in steps:
        clock += dt.timedelta(seconds=step["advance"])
        received = clock - dt.timedelta(seconds=step["lag"])
        for who, event_type, timestamp, props in step["events"]:
            EventFactory(customer=customers[who], transaction_id=f"t{next(ids)}",
                         event_type=event_type, timestamp=timestamp, properties=props,
                         received_at=received)
        if step["then"] == "rollup":
            rollup_usage(now=clock)
        elif step["then"] == "rollup_hours":
            rollup_hours(customer_id=customers[0].pk,
                         hours=[BASE + h * HOUR for h in step["hours"]])

    raw = raw_events()
    for a, b in ranges:
        if a == b:
            continue
        start, end = min(a, b), max(a, b)
        for customer in customers:
            mine = [e for e in raw if e["customer_id"] == customer.pk]
            expected = {m.code: reference(mine, m, start, end) for m in metrics}
            assert usage_totals(customer=customer, start=start, end=end) == expected
        by_code = {m.code: m for m in metrics}
        many = charge_usage_many(customer_ids=[c.pk for c in customers], start=start, end=end,
                                 charges=CHARGES)
        for customer in customers:
            mine = [e for e in raw if e["customer_id"] == customer.pk]
            assert many[customer.pk] == {
                key: reference(mine, by_code[code], start, end, extra)
                for key, code, extra in CHARGES
            }


# --- Examples --------------------------------------------------------------------------


def call(customer, at, *, received=None, **props):
    return EventFactory(customer=customer, event_type="ai.call", timestamp=at,
                        properties=props, received_at=received or at)


def test_whole_clean_hours_are_read_from_rollups(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR, tokens=5)
    rollup_usage(now=BASE + 5 * HOUR)
    # Tamper with the rollup row: the selector trusts it for a clean whole hour, which is
    # the point of having rollups (and shows this test exercises them).
    UsageRollup.objects.filter(customer=acme, metric__code="tokens").update(value=500)

    totals = usage_totals(customer=acme, start=BASE, end=BASE + 4 * HOUR)

    assert totals["tokens"] == 500


def test_whole_days_are_read_from_day_rows_and_the_hours_around_them_from_hour_rows(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR, tokens=5)
    call(acme, BASE + 24 * HOUR, tokens=7)
    rollup_usage(now=BASE + 30 * HOUR)
    UsageRollupDay.objects.filter(customer=acme, metric__code="tokens").update(value=500)

    assert usage_totals(customer=acme, start=BASE, end=BASE + 25 * HOUR)["tokens"] == 507
    assert usage_totals(customer=acme, start=BASE + HOUR, end=BASE + 25 * HOUR)["tokens"] == 12


def test_partial_edge_hours_are_read_from_raw_events(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR + 10 * MIN, tokens=5)
    call(acme, BASE + 2 * HOUR + 50 * MIN, tokens=7)
    rollup_usage(now=BASE + 5 * HOUR)
    UsageRollup.objects.filter(customer=acme, metric__code="tokens").update(value=500)

    totals = usage_totals(customer=acme, start=BASE + 2 * HOUR + 30 * MIN, end=BASE + 4 * HOUR)

    assert totals["tokens"] == 7


def test_hours_with_events_received_after_the_watermark_margin_are_read_raw(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 2 * HOUR, tokens=5)
    rollup_usage(now=BASE + 5 * HOUR)
    late = BASE + 5 * HOUR + MIN  # after the last run: the rollup row is stale
    call(acme, BASE + 2 * HOUR + 30 * MIN, received=late, tokens=1)

    totals = usage_totals(customer=acme, start=BASE, end=BASE + 4 * HOUR)

    assert totals["tokens"] == 6
    assert totals["calls"] == 2


def test_totals_without_any_rollup_run_read_raw_events(metrics):
    acme = CustomerFactory()
    call(acme, BASE + HOUR, tokens=5, user="a")
    call(acme, BASE + 3 * HOUR, tokens=9, user="b")
    assert usage_totals(customer=acme, start=BASE, end=BASE + 24 * HOUR) == {
        "calls": 2, "calls_rt": 0, "tokens": 14, "tokens_n1": 0, "peak": 9, "users": 2,
        "tasks": 0, "docs": 0, "task_max": 0,
    }


def test_unique_values_union_across_rollup_rows_and_raw_edges(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 10 * MIN, user="a")
    call(acme, BASE + HOUR, user="a")
    call(acme, BASE + 2 * HOUR, user=1)
    call(acme, BASE + 3 * HOUR + 5 * MIN, user=1.0)
    rollup_usage(now=BASE + 6 * HOUR)
    totals = usage_totals(customer=acme, start=BASE + 5 * MIN, end=BASE + 3 * HOUR + 30 * MIN)
    assert totals["users"] == 2


def test_float_noise_is_rounded_per_event_to_twelve_places(metrics):
    acme = CustomerFactory()
    for minute in range(3):
        call(acme, BASE + minute * MIN, tokens=0.1 + 0.2)  # 0.30000000000000004
    rollup_usage(now=BASE + 2 * HOUR)
    totals = usage_totals(customer=acme, start=BASE, end=BASE + HOUR)
    assert totals["tokens"] == Decimal("0.9")
    assert totals["tokens"] == reference(raw_events(), Metric.objects.get(code="tokens"),
                                         BASE, BASE + HOUR)


def test_charge_filters_narrow_the_metric(metrics):
    acme = CustomerFactory()
    call(acme, BASE, tokens=5, tier="rt")
    call(acme, BASE + MIN, tokens=7, tier="batch")
    rollup_usage(now=BASE + 2 * HOUR)
    values = charge_usage(
        customer=acme, start=BASE, end=BASE + HOUR,
        charges=[ChargeUsage(key="rt", metric="tokens", filters={"tier": "rt"}),
                 ("all", Metric.objects.get(code="tokens"), {})],
    )
    assert values == {"rt": 5, "all": 12}


def test_charge_naming_an_unknown_metric_is_an_error(metrics):
    with pytest.raises(Metric.DoesNotExist):
        charge_usage(customer=CustomerFactory(), start=BASE, end=BASE + HOUR,
                     charges=[("x", "nope", {})])


def test_range_must_end_after_it_starts(metrics):
    with pytest.raises(ValueError, match="end must be after start"):
        usage_totals(customer=CustomerFactory(), start=BASE, end=BASE)


def test_breakdown_groups_provider_cost_by_model_and_seat():
    acme = CustomerFactory()
    common = {"customer": acme, "event_type": "ai.call", "timestamp": BASE}
    EventFactory(**common, model="gpt", seat="alice@acme.test", provider_cost=Decimal("0.25"),
                 properties={"input_tokens": 100, "output_tokens": 20, "total_tokens": 120})
    EventFactory(**common, model="gpt", seat="bob@acme.test", provider_cost=Decimal("0.5"),
                 properties={"input_tokens": 10, "output_tokens": 5})
    EventFactory(**common, model="mystery", seat="alice@acme.test", unpriced=True,
                 properties={"input_tokens": 1, "output_tokens": 1})
    EventFactory(**common, model="gpt", provider_cost=Decimal("1"), properties={})
    EventFactory(customer=acme, event_type="task.done", timestamp=BASE)
    EventFactory(**{**common, "timestamp": BASE + HOUR}, model="gpt",
                 provider_cost=Decimal("100"), properties={})  # outside the range

    got = usage_breakdown(customer=acme, start=BASE, end=BASE + HOUR)

    assert got.total == Decimal("1.75")
    assert [(m.model, m.calls, m.input_tokens, m.output_tokens, m.cost, m.unpriced)
            for m in got.by_model] == [("gpt", 3, 110, 25, Decimal("1.75"), 0),
                                       ("mystery", 1, 1, 1, 0, 1)]
    assert [(s.seat, s.calls, s.total_tokens, s.cost) for s in got.by_seat] == [
        ("bob@acme.test", 1, 15, Decimal("0.5")),
        ("alice@acme.test", 2, 122, Decimal("0.25")),
    ]


def test_a_read_of_only_unique_counts_or_only_narrowed_charges_is_exact(metrics):
    acme = CustomerFactory()
    call(acme, BASE + 10 * MIN, user="a", tier="rt", tokens=2)
    call(acme, BASE + HOUR, user="b", tier="batch", tokens=3)
    rollup_usage(now=BASE + 3 * HOUR)
    call(acme, BASE + HOUR + MIN, received=BASE + 3 * HOUR + MIN, user="c", tier="rt")

    users = Metric.objects.filter(code="users")
    assert usage_totals(customer=acme, start=BASE, end=BASE + 2 * HOUR, metrics=users) == {
        "users": 3}
    assert charge_usage(customer=acme, start=BASE, end=BASE + 2 * HOUR,
                        charges=[("rt_tokens", "tokens", {"tier": "rt"})]) == {"rt_tokens": 2}
