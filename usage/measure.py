"""The measuring engine behind ``usage/selectors.py``: exact metric values for any range,
reading rollups for whole hours and raw events only where no rollup row holds them.

Exactness. The answer always equals aggregating the raw events of the range, however
stale the rollups are. Write W for the watermark (the ``now`` of the last rollup run), M
for the safety margin, and cutoff C = W - M. Two assumptions, both kept by the code:

1. An event commits less than M after its ``received_at`` (ingestion takes
   ``received_at`` at the start of a short transaction; M defaults to 10 minutes).
2. Events are never updated or deleted once accepted.

Claim: the rollup rows of every hour H aggregate exactly the events of H received before
C (``UsageRollup`` per metric and ``UsageBreakdown`` by dimension alike). By induction over
the runs, which serialize on the watermark row's lock:
- Before the first run W is 1970 (``NOTHING_ROLLED_UP``): no event, no row.
- A run at ``now`` moves C to C' = now - M. Every event received before C' committed
  before ``now`` by (1), so the run's snapshot holds all of them. It recomputes, from the
  events received before C', every (customer, hour, event type) with an event received
  in [C, C'); every other hour has no event received in [C, C'), so its rows, exact for
  C, are exact for C'. ``rollup_hours`` and ``rollup_rebuild`` recompute with the
  current C, which keeps the claim. By (2) no row goes stale in any other way. Day
  rows are rewritten from their hour rows in the same transaction
  (``usage/rollup_days.py``), so they hold the same events as their 24 hours.
So a range's whole hours are their rollup rows (a day row for each whole UTC day, hour
rows around them) plus their events received at or after C
(the *tail*, found through the ``(customer_id, received_at)`` index: only what arrived in
the last margin-plus-interval, or a backfill the job has not caught up with), and the
partial edge hours are read raw. Rows and tail never overlap and miss nothing.

The rows, the tail and W must come from one snapshot. On PostgreSQL the read is one
statement that is given C as a literal, so the planner sees how recent the cutoff is and
takes the ``received_at`` index (a watermark read inside the statement reaches the
planner as an unknown parameter, and it walked every event of the customer instead). The
statement also returns the W its snapshot saw; when that is not the W the cutoff came
from (a run committed in between), it runs again with the W it saw. On SQLite the reads
run in one transaction, which SQLite makes one snapshot. Metrics edited or created after
their events were rolled up need ``usage.rollups.rollup_rebuild``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction

from common.decimals import tidy
from plans.models import Metric
from usage import sql
from usage.aggregation import (
    MAX,
    SUM,
    UNIQUE_COUNT,
    Accumulator,
    MetricRule,
    Spans,
    whole_hours,
)
from usage.models import Event, RollupWatermark, UsageRollup, UsageRollupDay

WATERMARK_NAME = "usage"
# The watermark row starts here: before any event, so nothing counts as rolled up.
NOTHING_ROLLED_UP = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Statements tried before a read holds the rollup job off (a run commits every few
# minutes, so a second try almost never misses).
_ATTEMPTS = 3

T = TypeVar("T")


def rollup_safety_margin() -> dt.timedelta:
    return dt.timedelta(seconds=settings.USAGE_ROLLUP_MARGIN_SECONDS)


def metric_rule(metric: Metric, extra_filters: Mapping | None = None) -> MetricRule:
    filters = tuple(f for f in (metric.filters, extra_filters) if f)
    return MetricRule(
        event_type=metric.event_type,
        aggregation=metric.aggregation,
        field=metric.field,
        filters=filters,
    )


@dataclass(frozen=True)
class Spec:
    """One value to measure: a metric, maybe narrowed by a charge's extra filters."""

    key: str
    metric: Metric
    extra: Mapping  # empty when the metric's own filters already imply the charge's

    @property
    def use_rollup(self) -> bool:
        # Rollups are per metric: only charges without narrower filters can read them.
        return not self.extra


def check_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, end = sql.as_utc(start), sql.as_utc(end)
    if end <= start:
        raise ValueError("end must be after start")
    return start, end


def raw_ranges(start, end, use_rollup: bool) -> list[tuple[dt.datetime, dt.datetime]]:
    """Where every event is read raw: the whole range, or its partial edge hours."""
    whole = whole_hours(start, end)
    if not use_rollup or whole is None:
        return [(start, end)]
    return [(lo, hi) for lo, hi in ((start, whole[0]), (whole[1], end)) if lo < hi]


# --- The watermark ---------------------------------------------------------------------

_WATERMARK = RollupWatermark._meta.db_table


def watermark_until() -> dt.datetime:
    """The watermark as of now; ``NOTHING_ROLLED_UP`` before the first run."""
    until = (
        RollupWatermark.objects.filter(name=WATERMARK_NAME)
        .values_list("received_until", flat=True)
        .first()
    )
    return NOTHING_ROLLED_UP if until is None else until


def cutoff_of(until: dt.datetime) -> dt.datetime:
    """Rollup rows hold exactly the events received before this (see above)."""
    return until - rollup_safety_margin()


def watermark_sql() -> str:
    """A one-row, one-column subquery: the watermark this statement's snapshot sees."""
    return (f"(SELECT coalesce((SELECT received_until FROM {_WATERMARK}"
            f" WHERE name = %(watermark)s), %(nothing)s::timestamptz))")


WATERMARK_PARAMS = {"watermark": WATERMARK_NAME, "nothing": NOTHING_ROLLED_UP}


def at_one_watermark(read: Callable[[dt.datetime], tuple[dt.datetime, T]]) -> T:
    """The answer of ``read(cutoff)``, one statement that also returns the watermark its
    snapshot saw, taken when that watermark is the one the cutoff came from."""
    until = watermark_until()
    for _ in range(_ATTEMPTS):
        seen, answer = read(cutoff_of(until))
        if seen == until:
            return answer
        until = seen
    # A run committed between each two statements: hold runs off for one more. FOR SHARE
    # waits for a run in progress and blocks the next (runs lock the row FOR UPDATE).
    with transaction.atomic():
        RollupWatermark.objects.bulk_create(
            [RollupWatermark(name=WATERMARK_NAME, received_until=NOTHING_ROLLED_UP)],
            ignore_conflicts=True,
        )
        ((until,),) = sql.fetch_rows(
            f"SELECT received_until FROM {_WATERMARK} WHERE name = %(watermark)s FOR SHARE",
            WATERMARK_PARAMS,
        )
        seen, answer = read(cutoff_of(until))
        assert seen == until, "the watermark moved while locked"
        return answer


# --- Measuring ---------------------------------------------------------------------------


def measure(
    *, customer_ids: list[int], start: dt.datetime, end: dt.datetime, specs: list[Spec]
) -> dict[tuple[int, str], Decimal]:
    start, end = check_range(start, end)
    if not specs or not customer_ids:
        return {}
    if connection.vendor == "postgresql":
        return at_one_watermark(
            lambda cutoff: _measure_sql(customer_ids, start, end, specs, cutoff))
    return _measure_python(customer_ids, start, end, specs)


# --- PostgreSQL: one statement, one snapshot -------------------------------------------

_EVENT = Event._meta.db_table
_ROLLUP, _ROLLUP_DAY = UsageRollup._meta.db_table, UsageRollupDay._meta.db_table


def _event_parts(start, end, specs, params) -> list[str]:
    """SELECTs of the raw events a read needs: the partial edge hours of the specs that
    read rollups and their whole hours' events received at or after the cutoff (the
    tail); for the other specs the whole range, flagged ``full``."""
    conditions = []
    rolled_types = sorted({s.metric.event_type for s in specs if s.use_rollup})
    raw_types = sorted({s.metric.event_type for s in specs if not s.use_rollup})
    if rolled_types:
        params["rolled_types"] = rolled_types
        for i, (lo, hi) in enumerate(raw_ranges(start, end, use_rollup=True)):
            params[f"lo_{i}"], params[f"hi_{i}"] = lo, hi
            conditions.append((False, "event_type = ANY(%(rolled_types)s::text[])"
                               f" AND timestamp >= %(lo_{i})s AND timestamp < %(hi_{i})s"))
        if whole_hours(start, end) is not None:
            conditions.append((False, "received_at >= %(cutoff)s"
                               " AND event_type = ANY(%(rolled_types)s::text[])"
                               " AND timestamp >= %(hs)s AND timestamp < %(he)s"))
    if raw_types:
        params["raw_types"] = raw_types
        conditions.append((True, "event_type = ANY(%(raw_types)s::text[])"
                           " AND timestamp >= %(start)s AND timestamp < %(end)s"))
    return [f"SELECT {full} AS full, customer_id, event_type, properties FROM {_EVENT}"
            f" WHERE customer_id = ANY(%(customers)s::bigint[]) AND {where}"
            for full, where in conditions]


def _numbers(specs, params) -> dict[str, tuple[str, str, str]]:
    """Per field that numeric specs sum or max: (column ``f<k>``, its JSON value looked up
    once per event of the event types that use it, as ``j<k>``, and that value's number)."""
    types: dict[str, set[str]] = defaultdict(set)
    for spec in specs:
        if spec.metric.aggregation in (SUM, MAX):
            types[spec.metric.field].add(spec.metric.event_type)
    columns = {}
    for k, (field, event_types) in enumerate(sorted(types.items())):
        params[f"number_field_{k}"], params[f"number_types_{k}"] = field, sorted(event_types)
        value = (f"CASE WHEN e.event_type = ANY(%(number_types_{k})s::text[])"
                 f" THEN e.properties -> %(number_field_{k})s END")
        columns[field] = (f"f{k}", value, sql.number(f"v.j{k}"))
    return columns


def _raw_column(n: int, spec: Spec, params: dict, numbers: dict, mixed: bool) -> str:
    """Spec ``n`` over the raw events: an aggregate, or for unique_count the event's
    distinct value when it counts (NULL otherwise), to group by. ``mixed``: some specs
    read the whole range raw, so the rows say which part they belong to."""
    metric = spec.metric
    params.update({f"type_{n}": metric.event_type, f"field_{n}": metric.field,
                   f"filters_{n}": json.dumps(metric.filters or {}),
                   f"extra_{n}": json.dumps(spec.extra)})
    where = [f"x.event_type = %(type_{n})s"]
    if mixed:
        where.append("NOT x.full" if spec.use_rollup else "x.full")
    if metric.filters:
        where.append(f"x.properties @> %(filters_{n})s::jsonb")
    if spec.extra:
        where.append(f"x.properties @> %(extra_{n})s::jsonb")
    condition = " AND ".join(where)
    if metric.aggregation == UNIQUE_COUNT:
        value = sql.distinct_value("x.properties", f"%(field_{n})s")
        return f"CASE WHEN {condition} THEN {value} END"
    number = f"x.{numbers[metric.field][0]}" if metric.aggregation in (SUM, MAX) else ""
    return f"{sql.aggregate(metric.aggregation, number)} FILTER (WHERE {condition})"


def _rollup_rows(spans: Spans, params: dict) -> str:
    """The rollup rows of the specs (CTE ``spec``) over the whole hours: day rows for whole
    days, hour rows around them, each span an index range."""
    selects = []
    for i, (lo, hi) in enumerate(spans.hours):
        params[f"rows_lo_{i}"], params[f"rows_hi_{i}"] = lo, hi
        selects.append((_ROLLUP, f"r.hour >= %(rows_lo_{i})s AND r.hour < %(rows_hi_{i})s"))
    if spans.days is not None:
        params["days_lo"], params["days_hi"] = spans.days
        selects.append((_ROLLUP_DAY, "r.day >= %(days_lo)s AND r.day < %(days_hi)s"))
    if not selects:
        return ("SELECT NULL::bigint AS customer_id, NULL::int AS n, NULL::text AS agg,"
                " NULL::numeric AS value, NULL::jsonb AS distinct_values WHERE false")
    return "\n        UNION ALL\n        ".join(
        f"SELECT r.customer_id, s.n, s.agg, r.value, r.distinct_values"
        f" FROM spec s JOIN {table} r ON r.metric_id = s.metric_id"
        f" WHERE r.customer_id = ANY(%(customers)s::bigint[]) AND {where}"
        for table, where in selects)


def _measure_sql(customer_ids, start, end, specs, cutoff):
    whole = whole_hours(start, end) or (start, start)  # empty: no whole hour to read
    params = {**WATERMARK_PARAMS, "customers": customer_ids, "start": start, "end": end,
              "hs": whole[0], "he": whole[1], "cutoff": cutoff}
    union = "\n            UNION ALL\n            ".join(_event_parts(start, end, specs, params))
    numbers = _numbers(specs, params)
    values = "".join(f", {value} AS j{name[1:]}" for name, value, _ in numbers.values())
    computed = "".join(f", {number} AS {name}" for name, _, number in numbers.values())
    mixed = len({s.use_rollup for s in specs}) > 1
    columns = {n: _raw_column(n, spec, params, numbers, mixed) for n, spec in enumerate(specs)}
    unique = [n for n, s in enumerate(specs) if s.metric.aggregation == UNIQUE_COUNT]
    numeric = [n for n in columns if n not in unique]
    rolled = [n for n, s in enumerate(specs) if s.use_rollup]
    params.update({"ns": rolled, "metric_ids": [specs[n].metric.pk for n in rolled],
                   "aggs": [specs[n].metric.aggregation for n in rolled]})
    # Raw events are read once and hashed into few groups: per customer and distinct
    # value of each unique_count spec, every other spec a FILTERed aggregate (no row per
    # event and spec, no sort). Rollup rows are read per spec through the unique index.
    stage = ",\n               ".join(
        [f"{columns[n]} AS u{n}" for n in unique] + [f"{columns[n]} AS c{n}" for n in numeric])
    group_by = "".join(f", u{n}" for n in unique)
    combined = "".join(f", {'max' if specs[n].metric.aggregation == MAX else 'sum'}(c{n}) AS c{n}"
                       for n in numeric)
    numbers = ", ".join(f"({n}, r.c{n})" for n in numeric)
    distinct = ", ".join(f"({n}, s.u{n})" for n in unique)
    raw = (f"raw AS (SELECT customer_id{combined} FROM stage GROUP BY customer_id),"
           if numeric else "")
    raw_numbers = (f"SELECT 'raw' AS kind, r.customer_id, v.n, v.value FROM raw r"
                   f" CROSS JOIN LATERAL (VALUES {numbers}) AS v(n, value) UNION ALL"
                   if numeric else "")
    raw_distinct = (f"UNION ALL SELECT s.customer_id, u.n, u.value FROM stage s"
                    f" CROSS JOIN LATERAL (VALUES {distinct}) AS u(n, value)"
                    " WHERE u.value IS NOT NULL" if unique else "")
    rows = _rollup_rows(Spans.of(*whole), params)
    statement = f"""
    WITH events AS (
            {union}
    ),
    stage AS (
        SELECT x.customer_id,
               {stage}
        FROM (SELECT v.*{computed} FROM (SELECT e.*{values} FROM events e OFFSET 0) v
              OFFSET 0) x
        GROUP BY x.customer_id{group_by}
    ),
    {raw}
    spec AS (
        SELECT * FROM unnest(%(ns)s::int[], %(metric_ids)s::bigint[], %(aggs)s::text[])
            AS s(n, metric_id, agg)
    ),
    rolled AS (
        {rows}
    ),
    parts AS (
        {raw_numbers}
        SELECT 'rows' AS kind, customer_id, n,
               CASE WHEN agg = 'max' THEN max(value) ELSE sum(value) END AS value
        FROM rolled WHERE agg <> 'unique_count' GROUP BY customer_id, n, agg
        UNION ALL
        -- Distinct values by hashing (GROUP BY), not count(DISTINCT), which sorts.
        SELECT 'unique', customer_id, n, count(*)::numeric
        FROM (
            SELECT customer_id, n, value FROM (
                SELECT customer_id, n, v.value FROM rolled
                CROSS JOIN LATERAL jsonb_array_elements(coalesce(distinct_values, '[]')) v
                WHERE agg = 'unique_count'
                {raw_distinct}
            ) d0 GROUP BY customer_id, n, value
        ) d GROUP BY customer_id, n
    )
    SELECT w.until, p.kind, p.customer_id, p.n, p.value
    FROM {watermark_sql()} AS w(until) LEFT JOIN parts p ON true
    """
    rows = sql.fetch_rows(statement, params, work_mem=sql.READ_WORK_MEM)
    values: dict[tuple[int, str], Decimal] = {}
    for _, kind, customer_id, n, value in rows:
        if kind is None or value is None:
            continue
        key = (customer_id, specs[n].key)
        if kind == "unique" or key not in values:
            values[key] = value
        elif specs[n].metric.aggregation == MAX:
            values[key] = max(values[key], value)
        else:
            values[key] += value
    return rows[0][0], {key: tidy(value) for key, value in values.items()}


# --- SQLite: the same plan in Python, inside one transaction ---------------------------


def _measure_python(customer_ids, start, end, specs) -> dict[tuple[int, str], Decimal]:
    accs = {(cid, s.key): Accumulator(s.metric.aggregation) for cid in customer_ids for s in specs}
    rules = {s.key: metric_rule(s.metric, s.extra) for s in specs}
    rolled = [s for s in specs if s.use_rollup]
    whole = whole_hours(start, end)

    def feed(events, chosen: list[Spec]) -> None:
        for cid, event_type, properties in events.values_list(
            "customer_id", "event_type", "properties"
        ):
            for spec in chosen:
                if rules[spec.key].selects(event_type, properties):
                    accs[(cid, spec.key)].add_properties(properties, spec.metric.field)

    def events_of(chosen: list[Spec]):
        return Event.objects.filter(
            customer_id__in=customer_ids, event_type__in={s.metric.event_type for s in chosen}
        )

    with transaction.atomic():
        for use_rollup in (True, False):
            chosen = [s for s in specs if s.use_rollup == use_rollup]
            for lo, hi in raw_ranges(start, end, use_rollup) if chosen else ():
                feed(events_of(chosen).filter(timestamp__gte=lo, timestamp__lt=hi), chosen)
        if not rolled or whole is None:
            return {key: acc.value for key, acc in accs.items()}
        cutoff = cutoff_of(watermark_until())
        feed(events_of(rolled).filter(timestamp__gte=whole[0], timestamp__lt=whole[1],
                                      received_at__gte=cutoff), rolled)
        by_metric: dict[int, list[Spec]] = defaultdict(list)
        for spec in rolled:
            by_metric[spec.metric.pk].append(spec)
        spans = Spans.of(*whole)
        found = [UsageRollup.objects.filter(hour__gte=lo, hour__lt=hi) for lo, hi in spans.hours]
        if spans.days is not None:
            found.append(UsageRollupDay.objects.filter(day__gte=spans.days[0],
                                                       day__lt=spans.days[1]))
        for rows in found:
            for cid, metric_id, value, event_count, distinct_values in rows.filter(
                customer_id__in=customer_ids, metric_id__in=by_metric,
            ).values_list("customer_id", "metric_id", "value", "event_count", "distinct_values"):
                for spec in by_metric[metric_id]:
                    accs[(cid, spec.key)].add_rollup(
                        value=value, event_count=event_count, distinct_values=distinct_values
                    )
    return {key: acc.value for key, acc in accs.items()}
