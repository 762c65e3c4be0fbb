"""Usage reads shared by the API, the pages and the billing run: exact metric totals for any
range, per-charge values for rating, and provider cost.

Totals always equal aggregating the raw events of the range, however stale the rollups
are; how, and why that is exact, is in ``usage/measure.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from accounts.models import Customer
from plans.models import Metric
from usage import sql
from usage.aggregation import ZERO, json_contains, tidy, to_number
from usage.measure import NOTHING_ROLLED_UP, WATERMARK_NAME, Spec, check_range, measure
from usage.models import Event, RollupWatermark


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


# --- Provider cost ---------------------------------------------------------------------


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


@dataclass(frozen=True)
class _CallGroup:
    model: str
    seat: str
    calls: int
    input_tokens: Decimal
    output_tokens: Decimal
    total_tokens: Decimal
    cost: Decimal
    unpriced: int


def usage_breakdown(*, customer: Customer, start: dt.datetime, end: dt.datetime) -> UsageBreakdown:
    """Provider cost over ``[start, end)``: the total, and AI calls by model and by seat.

    A call's tokens are its ``total_tokens``, or input plus output when that is missing.
    Reads raw events (rollups have no model or seat dimension), one grouped query.
    """
    start, end = check_range(start, end)
    if connection.vendor == "postgresql":
        groups = _call_groups_sql(customer.pk, start, end)
    else:
        groups = _call_groups_python(customer.pk, start, end)
    total = sum((g.cost for g in groups), ZERO)
    models: dict[str, ModelUsage] = {}
    seats: dict[str, SeatUsage] = {}
    for g in groups:
        if not g.model:
            continue
        m = models.setdefault(g.model, ModelUsage(model=g.model))
        m.calls += g.calls
        m.input_tokens += g.input_tokens
        m.output_tokens += g.output_tokens
        m.cost += g.cost
        m.unpriced += g.unpriced
        if g.seat:
            s = seats.setdefault(g.seat, SeatUsage(seat=g.seat))
            s.calls += g.calls
            s.total_tokens += g.total_tokens
            s.cost += g.cost
    by_model = sorted(models.values(), key=lambda m: (-m.cost, m.model))
    by_seat = sorted(seats.values(), key=lambda s: (-s.cost, s.seat))
    return UsageBreakdown(total=tidy(total), by_model=by_model, by_seat=by_seat)


def _call_groups_sql(customer_id, start, end) -> list[_CallGroup]:
    input_tokens = sql.number("properties", "'input_tokens'")
    output_tokens = sql.number("properties", "'output_tokens'")
    total_tokens = sql.number("properties", "'total_tokens'")
    statement = f"""
    SELECT model, seat, count(*),
           coalesce(sum({input_tokens}), 0), coalesce(sum({output_tokens}), 0),
           coalesce(sum(coalesce({total_tokens},
                                 coalesce({input_tokens}, 0) + coalesce({output_tokens}, 0))), 0),
           coalesce(sum(provider_cost), 0), count(*) FILTER (WHERE unpriced)
    FROM {Event._meta.db_table}
    WHERE customer_id = %(customer_id)s AND timestamp >= %(start)s AND timestamp < %(end)s
    GROUP BY model, seat
    """
    rows = sql.fetch_rows(statement, {"customer_id": customer_id, "start": start, "end": end})
    return [
        _CallGroup(model, seat, calls, tidy(i), tidy(o), tidy(t), tidy(cost), unpriced)
        for model, seat, calls, i, o, t, cost, unpriced in rows
    ]


def _call_groups_python(customer_id, start, end) -> list[_CallGroup]:
    sums: dict[tuple[str, str], list] = {}
    events = Event.objects.filter(
        customer_id=customer_id, timestamp__gte=start, timestamp__lt=end
    ).values_list("model", "seat", "properties", "provider_cost", "unpriced")
    for model, seat, properties, cost, unpriced in events:
        i = to_number(properties.get("input_tokens"))
        o = to_number(properties.get("output_tokens"))
        t = to_number(properties.get("total_tokens"))
        if t is None:
            t = (i or ZERO) + (o or ZERO)
        acc = sums.setdefault((model, seat), [0, ZERO, ZERO, ZERO, ZERO, 0])
        acc[0] += 1
        acc[1] += i or ZERO
        acc[2] += o or ZERO
        acc[3] += t
        acc[4] += cost
        acc[5] += bool(unpriced)
    return [
        _CallGroup(model, seat, a[0], tidy(a[1]), tidy(a[2]), tidy(a[3]), tidy(a[4]), a[5])
        for (model, seat), a in sums.items()
    ]

