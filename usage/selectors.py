"""Usage reads shared by the API, the pages and the billing run: exact metric totals for any
range, per-charge values for rating, breakdowns and provider cost, and the window scan
of a billing run. No other app queries the usage tables.

Every read equals aggregating the raw events of the range, however stale the rollups
are; how, and why that is exact, is in ``usage/measure.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q, Sum

from accounts.models import Customer
from common.decimals import tidy
from plans.models import Metric
from usage.aggregation import DIMENSIONS, ZERO, json_contains
from usage.breakdown import DAY, Wanted, slices
from usage.ingest import AI_CALL
from usage.measure import NOTHING_ROLLED_UP, WATERMARK_NAME, Spec, check_range, measure
from usage.models import Event, RollupWatermark
from usage.window import Measure, window_values


def rollup_watermark() -> dt.datetime | None:
    """How far (in ``received_at``) the rollup job has read; None before its first run."""
    until = (
        RollupWatermark.objects.filter(name=WATERMARK_NAME)
        .values_list("received_until", flat=True)
        .first()
    )
    return None if until is None or until <= NOTHING_ROLLED_UP else until


@dataclass(frozen=True)
class ChargeUsage:
    """What rating measures for one charge: a metric, narrowed by the charge's filters."""

    key: str
    metric: Metric | str
    filters: Mapping = field(default_factory=dict)


def usage_totals(
    *,
    customer: Customer,
    start: dt.datetime,
    end: dt.datetime,
    metrics: Iterable[Metric] | None = None,
) -> dict[str, Decimal]:
    """Every metric's (or the given metrics') exact value over ``[start, end)``, by code."""
    chosen = list(Metric.objects.all() if metrics is None else metrics)
    specs = [Spec(key=m.code, metric=m, extra={}) for m in chosen]
    values = measure(customer_ids=[customer.pk], start=start, end=end, specs=specs)
    return {spec.key: values.get((customer.pk, spec.key), ZERO) for spec in specs}


def charge_usage(
    *,
    customer: Customer,
    start: dt.datetime,
    end: dt.datetime,
    charges: Sequence[ChargeUsage | tuple],
) -> dict[str, Decimal]:
    """Each charge's ``value`` (SPEC section 2 step 4) over ``[start, end)``, by charge key."""
    return charge_usage_many(customer_ids=[customer.pk], start=start, end=end, charges=charges)[
        customer.pk
    ]


def charge_usage_many(
    *,
    customer_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    charges: Sequence[ChargeUsage | tuple],
) -> dict[int, dict[str, Decimal]]:
    """``charge_usage`` for many customers sharing a period and price book, in one query.

    A charge is a ``ChargeUsage`` or a ``(key, metric or metric code, filters)`` tuple.
    """
    specs = _specs(charges)
    values = measure(customer_ids=list(customer_ids), start=start, end=end, specs=specs)
    return {
        cid: {spec.key: values.get((cid, spec.key), ZERO) for spec in specs}
        for cid in customer_ids
    }


def _specs(charges: Sequence[ChargeUsage | tuple]) -> list[Spec]:
    items = [c if isinstance(c, ChargeUsage) else ChargeUsage(*c) for c in charges]
    codes = {c.metric for c in items if isinstance(c.metric, str)}
    by_code = {m.code: m for m in Metric.objects.filter(code__in=codes)} if codes else {}
    specs = []
    for item in items:
        metric = by_code.get(item.metric) if isinstance(item.metric, str) else item.metric
        if metric is None:
            raise Metric.DoesNotExist(f"charge {item.key!r}: no metric {item.metric!r}")
        filters = dict(item.filters or {})
        implied = not filters or json_contains(metric.filters or {}, filters)
        specs.append(Spec(key=item.key, metric=metric, extra={} if implied else filters))
    if len({s.key for s in specs}) != len(specs):
        raise ValueError("charge keys must be unique")
    return specs


# --- Breakdowns and provider cost --------------------------------------------------------

BREAKDOWN_DIMENSIONS = (*DIMENSIONS, DAY)


@dataclass(frozen=True)
class UsageSlice:
    """The events of one type that share one value (``member``) of a breakdown dimension."""

    member: str  # the model, seat, latency tier, initiated_by, or the ISO date for "day"
    event_type: str
    events: int
    input_tokens: Decimal
    output_tokens: Decimal
    total_tokens: Decimal
    cost: Decimal
    unpriced: int  # events naming a model with no known price (cost 0)


def usage_slices(
    *, customer: Customer, start: dt.datetime, end: dt.datetime, dimension: str,
    event_type: str | None = None,
) -> list[UsageSlice]:
    """Events, tokens and provider cost over ``[start, end)`` by one of
    ``BREAKDOWN_DIMENSIONS`` and event type (or only ``event_type``); days in order,
    the others by cost, then events, descending.

    Events without a value in the dimension are left out (their total is in the
    ``usage_breakdown`` total). Exact like ``usage_totals``, from the same rollup job.
    """
    if dimension not in BREAKDOWN_DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(BREAKDOWN_DIMENSIONS)}")
    start, end = check_range(start, end)
    found = slices(customer_id=customer.pk, start=start, end=end,
                   wanted=[Wanted(dimension, event_type)])
    result = [
        UsageSlice(member=key.member, event_type=key.event_type, events=t.events,
                   input_tokens=tidy(t.input_tokens), output_tokens=tidy(t.output_tokens),
                   total_tokens=tidy(t.total_tokens), cost=tidy(t.cost), unpriced=t.unpriced)
        for key, t in found.items()
    ]
    if dimension == DAY:
        return sorted(result, key=lambda s: (s.member, s.event_type))
    return sorted(result, key=lambda s: (-s.cost, -s.events, s.member, s.event_type))


@dataclass
class ModelUsage:
    model: str
    calls: int = 0
    input_tokens: Decimal = ZERO
    output_tokens: Decimal = ZERO
    cost: Decimal = ZERO
    unpriced: int = 0  # calls naming a model with no known price (cost 0)


@dataclass
class SeatUsage:
    seat: str
    calls: int = 0
    total_tokens: Decimal = ZERO
    cost: Decimal = ZERO


@dataclass
class UsageBreakdown:
    total: Decimal
    by_model: list[ModelUsage]
    by_seat: list[SeatUsage]


def usage_breakdown(*, customer: Customer, start: dt.datetime, end: dt.datetime) -> UsageBreakdown:
    """Provider cost over ``[start, end)``: the total over every event, and the AI calls
    (``ai.call`` events) by model and by seat, each busiest first.

    A call's tokens are its ``total_tokens``, or input plus output when that is missing.
    One read of the breakdown rollups (plus the events they do not hold yet).
    """
    start, end = check_range(start, end)
    found = slices(customer_id=customer.pk, start=start, end=end,
                   wanted=[Wanted(""), Wanted("model", AI_CALL), Wanted("seat", AI_CALL)])
    total = sum((t.cost for key, t in found.items() if key.dimension == ""), ZERO)
    by_model = [
        ModelUsage(model=key.member, calls=t.events, input_tokens=tidy(t.input_tokens),
                   output_tokens=tidy(t.output_tokens), cost=tidy(t.cost), unpriced=t.unpriced)
        for key, t in found.items() if key.dimension == "model"
    ]
    by_seat = [
        SeatUsage(seat=key.member, calls=t.events, total_tokens=tidy(t.total_tokens),
                  cost=tidy(t.cost))
        for key, t in found.items() if key.dimension == "seat"
    ]
    return UsageBreakdown(
        total=tidy(total),
        by_model=sorted(by_model, key=lambda m: (-m.cost, m.model)),
        by_seat=sorted(by_seat, key=lambda s: (-s.cost, s.seat)),
    )


# --- Many customers over one window -------------------------------------------------------


def usage_window_values(
    *, start: dt.datetime, end: dt.datetime, measures: Sequence[Measure],
    customer_lo: int, customer_hi: int,
) -> dict[int, dict[Measure, Decimal]]:
    """Each measure's value over ``[start, end)`` for every customer with an id in
    ``[customer_lo, customer_hi]`` that has events of their types there (the others have
    none: zero), reading the window's events once. For thousands of customers sharing a
    window (a billing run); ``charge_usage_many`` is the way for a few. Same values."""
    return window_values(start=start, end=end, measures=measures, lo=customer_lo,
                         hi=customer_hi)


PROVIDER_COST_WINDOWS_PER_READ = 48


def provider_cost_many(
    *, customer_ids: Sequence[int], windows: Sequence[tuple[dt.datetime, dt.datetime]],
) -> dict[tuple[int, int], Decimal]:
    """Provider cost of every event per customer and window: ``(customer id, index of the
    window) → cost``, zeros left out; the pricing lab's margins. The events are read once
    for many windows (a filtered sum per window), and a long sorted list of customers as
    the id range it spans, like a billing run's window scan."""
    ids = sorted(set(customer_ids))
    spans = [check_range(start, end) for start, end in windows]
    if not ids or not spans:
        return {}
    wanted = set(ids)
    found: dict[tuple[int, int], Decimal] = {}
    for first in range(0, len(spans), PROVIDER_COST_WINDOWS_PER_READ):
        part = spans[first:first + PROVIDER_COST_WINDOWS_PER_READ]
        events = Event.objects.filter(timestamp__gte=min(s for s, _ in part),
                                      timestamp__lt=max(e for _, e in part))
        if len(ids) <= 500:
            events = events.filter(customer_id__in=ids)
        else:
            events = events.filter(customer_id__gte=ids[0], customer_id__lte=ids[-1])
        if connection.vendor != "postgresql":  # SQLite sums decimals as floats
            _add_costs_python(events, part, first, wanted, found)
            continue
        sums = {f"w{n}": Sum("provider_cost", filter=Q(timestamp__gte=s, timestamp__lt=e))
                for n, (s, e) in enumerate(part)}
        for row in events.order_by().values("customer_id").annotate(**sums):
            if row["customer_id"] not in wanted:
                continue
            for n in range(len(part)):
                if cost := row[f"w{n}"]:
                    found[(row["customer_id"], first + n)] = tidy(cost)
    return found


def _add_costs_python(events, spans, first: int, wanted: set[int],
                      found: dict[tuple[int, int], Decimal]) -> None:
    sums: dict[tuple[int, int], Decimal] = {}
    rows = events.exclude(provider_cost=0).values_list("customer_id", "timestamp", "provider_cost")
    for customer_id, moment, cost in rows:
        if customer_id not in wanted:
            continue
        for n, (start, end) in enumerate(spans):
            if start <= moment < end:
                key = (customer_id, first + n)
                sums[key] = sums.get(key, ZERO) + cost
    found.update({key: tidy(cost) for key, cost in sums.items() if cost})
