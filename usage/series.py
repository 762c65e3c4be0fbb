"""Reads for the customer dashboard: each metric's value per UTC day, and the period's
usage mix (by seat, initiated_by, model and latency tier), each in one statement.

Exact like ``usage/selectors.py`` and for the same reason (``usage/measure.py``): a day's
value is its rollup rows (the day row of a whole UTC day, the hour rows of a partial
one) plus the events no row holds yet (the whole hours' events received at or after the
rollup cutoff, and the partial edge hours raw). Rows and raw events never overlap, so
they are merged per day the way ``measure`` merges them over a range: sums and counts
add, maxima take the larger, unique counts union their distinct values.

The mix reads ``usage.breakdown.slices`` with every dimension the page shows at once, so
the tail is scanned once; provider cost is left out (the vendor's cost, not the
customer's business).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from accounts.models import Customer
from common.decimals import tidy
from plans.models import Metric
from usage import sql
from usage.aggregation import (
    MAX,
    ONE_DAY,
    SUM,
    UNIQUE_COUNT,
    ZERO,
    Accumulator,
    Spans,
    floor_day,
    whole_hours,
)
from usage.breakdown import Wanted, slices
from usage.ingest import AI_CALL
from usage.measure import (
    WATERMARK_PARAMS,
    at_one_watermark,
    check_range,
    cutoff_of,
    metric_rule,
    raw_ranges,
    watermark_sql,
    watermark_until,
)
from usage.models import Event, UsageRollup, UsageRollupDay

Day = tuple[dt.date, Decimal]


def days_of(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The UTC days ``[start, end)`` touches, in order."""
    start, end = check_range(start, end)
    day, days = floor_day(start), []
    while day < end:
        days.append(day.date())
        day += ONE_DAY
    return days


def daily_values(
    *, customer: Customer, start: dt.datetime, end: dt.datetime, metrics: Sequence[Metric],
) -> dict[str, tuple[Day, ...]]:
    """Each metric's exact value on every UTC day ``[start, end)`` touches (the first and
    last day cut to the range), in day order, by metric code; 0 on a day without usage.

    A day's value is what ``usage_totals`` gives for that day alone; for ``unique_count``
    and ``max`` the days do not add up to the range's value (a seat active on two days
    counts on both)."""
    start, end = check_range(start, end)
    metrics = list(dict.fromkeys(metrics))
    if not metrics:
        return {}
    if connection.vendor == "postgresql":
        found = at_one_watermark(lambda cutoff: _daily_sql(customer.pk, start, end, metrics,
                                                           cutoff))
    else:
        found = _daily_python(customer.pk, start, end, metrics)
    days = days_of(start, end)
    return {
        metric.code: tuple(
            (day, found[(n, day)].value if (n, day) in found else ZERO) for day in days)
        for n, metric in enumerate(metrics)
    }


def _accumulator(found: dict, metrics, n: int, day: dt.date) -> Accumulator:
    key = (n, day)
    if key not in found:
        found[key] = Accumulator(metrics[n].aggregation)
    return found[key]


# --- PostgreSQL: one statement -----------------------------------------------------------

_EVENT = Event._meta.db_table
_ROLLUP, _ROLLUP_DAY = UsageRollup._meta.db_table, UsageRollupDay._meta.db_table


def _event_parts(start, end, params) -> list[str]:
    """The raw events a read needs: the partial edge hours, and the whole hours' events
    received at or after the cutoff (the tail), each an index range."""
    conditions = []
    for i, (lo, hi) in enumerate(raw_ranges(start, end, use_rollup=True)):
        params[f"lo_{i}"], params[f"hi_{i}"] = lo, hi
        conditions.append(f"timestamp >= %(lo_{i})s AND timestamp < %(hi_{i})s")
    if whole_hours(start, end) is not None:
        conditions.append("received_at >= %(cutoff)s AND timestamp >= %(hs)s"
                          " AND timestamp < %(he)s")
    return [f"SELECT event_type, timestamp, properties FROM {_EVENT}"
            f" WHERE customer_id = %(customer)s AND event_type = ANY(%(types)s::text[])"
            f" AND {where}" for where in conditions]


def _rollup_rows(spans: Spans, params: dict) -> list[str]:
    selects = []
    for i, (lo, hi) in enumerate(spans.hours):
        params[f"rows_lo_{i}"], params[f"rows_hi_{i}"] = lo, hi
        selects.append((_ROLLUP, sql.day_of("r.hour"),
                        f"r.hour >= %(rows_lo_{i})s AND r.hour < %(rows_hi_{i})s"))
    if spans.days is not None:
        params["days_lo"], params["days_hi"] = spans.days
        selects.append((_ROLLUP_DAY, "r.day", "r.day >= %(days_lo)s AND r.day < %(days_hi)s"))
    return [f"SELECT 'rows' AS kind, {day} AS day, s.n, r.value, r.distinct_values"
            f" FROM spec s JOIN {table} r ON r.metric_id = s.metric_id"
            f" WHERE r.customer_id = %(customer)s AND {where}"
            for table, day, where in selects]


def _daily_sql(customer_id, start, end, metrics, cutoff):
    whole = whole_hours(start, end) or (start, start)
    params = {**WATERMARK_PARAMS, "customer": customer_id, "hs": whole[0], "he": whole[1],
              "cutoff": cutoff, "types": sorted({m.event_type for m in metrics}),
              "ns": list(range(len(metrics))), "metric_ids": [m.pk for m in metrics]}
    values, computed, unique, numeric = [], [], [], []
    for n, metric in enumerate(metrics):
        params.update({f"type_{n}": metric.event_type, f"field_{n}": metric.field,
                       f"filters_{n}": json.dumps(metric.filters or {})})
        condition = f"x.event_type = %(type_{n})s"
        if metric.filters:
            condition += f" AND x.properties @> %(filters_{n})s::jsonb"
        if metric.aggregation == UNIQUE_COUNT:
            value = sql.distinct_value("x.properties", f"%(field_{n})s")
            unique.append(f"CASE WHEN {condition} THEN {value} END AS u{n}")
            continue
        number = ""
        if metric.aggregation in (SUM, MAX):
            values.append(f", CASE WHEN e.event_type = %(type_{n})s"
                          f" THEN e.properties -> %(field_{n})s END AS j{n}")
            computed.append(f", {sql.number(f'v.j{n}')} AS f{n}")
            number = f"x.f{n}"
        numeric.append((n, f"{sql.aggregate(metric.aggregation, number)}"
                           f" FILTER (WHERE {condition}) AS c{n}"))
    stage = ",\n               ".join([*unique, *(column for _, column in numeric)])
    group_by = "".join(f", u{n}" for n, m in enumerate(metrics) if m.aggregation == UNIQUE_COUNT)
    union = "\n        UNION ALL\n        ".join(_event_parts(start, end, params))
    values_sql, computed_sql = "".join(values), "".join(computed)
    day_sql = sql.day_of("x.timestamp")
    parts = _rollup_rows(Spans.of(*whole), params)
    if numeric:
        combined = ", ".join(
            f"{'max' if metrics[n].aggregation == MAX else 'sum'}(c{n}) AS c{n}"
            for n, _ in numeric)
        pairs = ", ".join(f"({n}, r.c{n})" for n, _ in numeric)
        parts.append(f"SELECT 'raw' AS kind, r.day, v.n, v.value, NULL::jsonb AS distinct_values FROM ("
                     f"SELECT day, {combined} FROM stage GROUP BY day) r"
                     f" CROSS JOIN LATERAL (VALUES {pairs}) AS v(n, value)"
                     " WHERE v.value IS NOT NULL")
    if unique:
        pairs = ", ".join(f"({n}, s.u{n})" for n, m in enumerate(metrics)
                          if m.aggregation == UNIQUE_COUNT)
        parts.append("SELECT 'raw' AS kind, day, n, NULL::numeric AS value,"
                     " jsonb_agg(value) AS distinct_values FROM ("
                     "SELECT s.day, u.n, u.value FROM stage s"
                     f" CROSS JOIN LATERAL (VALUES {pairs}) AS u(n, value)"
                     " WHERE u.value IS NOT NULL GROUP BY s.day, u.n, u.value"
                     ") d GROUP BY day, n")
    rolled_and_raw = "\n        UNION ALL\n        ".join(parts)
    statement = f"""
    WITH events AS (
        {union}
    ),
    stage AS (
        SELECT {day_sql} AS day,
               {stage}
        FROM (SELECT v.*{computed_sql} FROM (SELECT e.*{values_sql}
              FROM events e OFFSET 0) v OFFSET 0) x
        GROUP BY 1{group_by}
    ),
    spec AS (
        SELECT * FROM unnest(%(ns)s::int[], %(metric_ids)s::bigint[]) AS s(n, metric_id)
    ),
    parts AS (
        {rolled_and_raw}
    )
    SELECT w.until, p.kind, p.day, p.n, p.value, p.distinct_values
    FROM {watermark_sql()} AS w(until) LEFT JOIN parts p ON true
    """
    rows = sql.fetch_rows(statement, params, work_mem=sql.READ_WORK_MEM)
    found: dict[tuple[int, dt.date], Accumulator] = {}
    for _, kind, day, n, value, distinct_values in rows:
        if kind is None:
            continue  # the watermark's row when nothing matched
        if isinstance(distinct_values, str):  # Django's cursor leaves jsonb as text
            distinct_values = json.loads(distinct_values)
        _accumulator(found, metrics, n, day.astimezone(dt.UTC).date()).add_rollup(
            value=tidy(value) if value is not None else ZERO, event_count=0,
            distinct_values=distinct_values)
    return rows[0][0], found


# --- SQLite: the same plan in Python, inside one transaction -----------------------------


def _daily_python(customer_id, start, end, metrics) -> dict[tuple[int, dt.date], Accumulator]:
    found: dict[tuple[int, dt.date], Accumulator] = {}
    rules = [metric_rule(m) for m in metrics]
    whole = whole_hours(start, end)
    with transaction.atomic():
        reads = [Q(timestamp__gte=lo, timestamp__lt=hi)
                 for lo, hi in raw_ranges(start, end, use_rollup=True)]
        if whole is not None:
            reads.append(Q(received_at__gte=cutoff_of(watermark_until()),
                           timestamp__gte=whole[0], timestamp__lt=whole[1]))
        where = reads[0]
        for read in reads[1:]:
            where |= read
        events = Event.objects.filter(
            where, customer_id=customer_id, event_type__in={m.event_type for m in metrics})
        for event_type, timestamp, properties in events.values_list(
            "event_type", "timestamp", "properties"
        ):
            day = timestamp.astimezone(dt.UTC).date()
            for n, rule in enumerate(rules):
                if rule.selects(event_type, properties):
                    _accumulator(found, metrics, n, day).add_properties(
                        properties, metrics[n].field)
        if whole is None:
            return found
        index = {m.pk: n for n, m in enumerate(metrics)}
        spans = Spans.of(*whole)
        sources = [(UsageRollup.objects.filter(hour__gte=lo, hour__lt=hi), "hour")
                   for lo, hi in spans.hours]
        if spans.days is not None:
            sources.append((UsageRollupDay.objects.filter(
                day__gte=spans.days[0], day__lt=spans.days[1]), "day"))
        for rows, when in sources:
            for metric_id, moment, value, count, distinct_values in rows.filter(
                customer_id=customer_id, metric_id__in=index,
            ).values_list("metric_id", when, "value", "event_count", "distinct_values"):
                _accumulator(found, metrics, index[metric_id],
                             moment.astimezone(dt.UTC).date()).add_rollup(
                    value=value, event_count=count, distinct_values=distinct_values)
    return found


# --- The usage mix -----------------------------------------------------------------------

MIX_DIMENSIONS = ("seat", "initiated_by", "model", "latency_tier")


@dataclass(frozen=True)
class MixRow:
    """One member of a dimension (a seat, "agent", a model, "batch") over the range."""

    member: str
    calls: int  # AI calls (``ai.call`` events)
    tokens: Decimal  # their tokens
    events: int  # events of every type, calls included


@dataclass(frozen=True)
class UsageMix:
    events: int  # every event of the range
    calls: int
    tokens: Decimal
    by: dict[str, tuple[MixRow, ...]]  # per MIX_DIMENSIONS, busiest first


def usage_mix(*, customer: Customer, start: dt.datetime, end: dt.datetime) -> UsageMix:
    """Calls, tokens and events over ``[start, end)`` in total and by each of
    ``MIX_DIMENSIONS`` (most tokens first, then most events); events without a value in
    a dimension are not in its rows. One breakdown read."""
    start, end = check_range(start, end)
    found = slices(customer_id=customer.pk, start=start, end=end,
                   wanted=[Wanted(""), *(Wanted(d) for d in MIX_DIMENSIONS)])
    totals: dict[tuple[str, str], list] = {}
    for key, sums in found.items():
        row = totals.setdefault((key.dimension, key.member), [0, ZERO, 0])
        if key.event_type == AI_CALL:
            row[0] += sums.events
            row[1] += sums.total_tokens
        row[2] += sums.events
    calls, tokens, events = totals.get(("", ""), [0, ZERO, 0])
    by = {}
    for dimension in MIX_DIMENSIONS:
        rows = [MixRow(member, c, tidy(t), e)
                for (d, member), (c, t, e) in totals.items() if d == dimension]
        by[dimension] = tuple(sorted(rows, key=lambda r: (-r.tokens, -r.events, r.member)))
    return UsageMix(events=events, calls=calls, tokens=tidy(tokens), by=by)
