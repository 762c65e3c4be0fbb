"""The measuring engine behind ``usage/selectors.py``: exact metric values for any range,
reading hourly rollups where they are provably complete and raw events elsewhere.

Exactness. The answer always equals aggregating the raw events of the range, however
stale the rollups are. Write W for the watermark (the ``now`` of the last rollup run), M
for the safety margin, and cutoff = W - M. Two assumptions, both kept by the code:

1. An event commits less than M after its ``received_at`` (ingestion takes
   ``received_at`` at the start of a short transaction; M defaults to 10 minutes).
2. Events are never updated or deleted once accepted.

Claim: for every hour H in which the customer has no event with ``received_at >= cutoff``
(a *clean* hour), the rollup rows of H aggregate exactly the events of H.
- Every event e of a clean hour has r = received_at < cutoff, i.e. r + M < W. Take the
  first run k whose ``now`` exceeded r + M (one exists: W is the largest ``now`` so far).
  Its window ``[watermark before it - M, now_k)`` contains r, as that watermark was at
  most r + M. By (1) e committed before r + M < now_k, so before run k's snapshot: run
  k found H through e (same statement) and recomputed H including e. Later recomputes
  of H see a superset, and writers serialize on the watermark row lock (a recompute
  that read earlier cannot commit later), so the rows of H still include e.
- A rollup row only ever holds events that existed when it was computed, which by (2)
  still exist, with the same timestamp and properties.
So clean hours read rollups; *dirty* hours (any event received at or after the cutoff),
the partial edge hours of the range, and hours without a watermark read raw events. On
PostgreSQL all of it (watermark, dirty hours, rollups, raw events) is one statement, so
one snapshot; on SQLite the reads run in one transaction. Metrics edited or created after
their events were rolled up need ``usage.rollups.rollup_rebuild``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import TruncHour

from plans.models import Metric
from usage import sql
from usage.aggregation import HOUR, Accumulator, MetricRule, floor_hour, tidy, whole_hours
from usage.models import Event, RollupWatermark, UsageRollup

WATERMARK_NAME = "usage"
# The watermark row starts here: before any event, so nothing counts as rolled up.
NOTHING_ROLLED_UP = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Dirty hours are read with OR-ed ranges on SQLite; its expression depth is limited.
_SQLITE_HOURS_PER_QUERY = 200


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


def _raw_ranges(start, end, use_rollup: bool) -> list[tuple[dt.datetime, dt.datetime]]:
    """Where raw events are read besides dirty hours: everything, or the partial edges."""
    whole = whole_hours(start, end)
    if not use_rollup or whole is None:
        return [(start, end)]
    return [(lo, hi) for lo, hi in ((start, whole[0]), (whole[1], end)) if lo < hi]


def measure(
    *, customer_ids: list[int], start: dt.datetime, end: dt.datetime, specs: list[Spec]
) -> dict[tuple[int, str], Decimal]:
    start, end = check_range(start, end)
    if not specs or not customer_ids:
        return {}
    if connection.vendor == "postgresql":
        return _measure_sql(customer_ids, start, end, specs)
    return _measure_python(customer_ids, start, end, specs)


# --- PostgreSQL: one statement, one snapshot -------------------------------------------

_EVENT = Event._meta.db_table
_ROLLUP = UsageRollup._meta.db_table
_WATERMARK = RollupWatermark._meta.db_table


def _measure_sql(customer_ids, start, end, specs) -> dict[tuple[int, str], Decimal]:
    whole = whole_hours(start, end) or (start, start)  # empty: no whole hour to read
    ranges = [(use, lo, hi) for use in (True, False) for lo, hi in _raw_ranges(start, end, use)]
    params = {
        "customers": customer_ids,
        "keys": [s.key for s in specs],
        "metric_ids": [s.metric.pk for s in specs],
        "types": [s.metric.event_type for s in specs],
        "aggs": [s.metric.aggregation for s in specs],
        "fields": [s.metric.field for s in specs],
        "filters": [json.dumps(s.metric.filters or {}) for s in specs],
        "extras": [json.dumps(s.extra) for s in specs],
        "use_rollup": [s.use_rollup for s in specs],
        "rollup_types": sorted({s.metric.event_type for s in specs if s.use_rollup}),
        "range_rollup": [r[0] for r in ranges],
        "range_lo": [r[1] for r in ranges],
        "range_hi": [r[2] for r in ranges],
        "hs": whole[0],
        "he": whole[1],
        "margin": rollup_safety_margin(),
        "watermark": WATERMARK_NAME,
    }
    num = sql.number("properties", "field")
    uval = sql.distinct_value("properties", "field")
    rollup_where = """s.use_rollup AND r.customer_id = ANY(%(customers)s::bigint[])
          AND r.hour >= %(hs)s AND r.hour < %(he)s
          AND NOT EXISTS (SELECT 1 FROM dirty d
                          WHERE d.customer_id = r.customer_id AND d.hour = r.hour)"""
    statement = f"""
    WITH spec AS (
        SELECT key, metric_id, event_type, agg, field, filters::jsonb AS filters,
               extra::jsonb AS extra, use_rollup
        FROM unnest(%(keys)s::text[], %(metric_ids)s::bigint[], %(types)s::text[],
                    %(aggs)s::text[], %(fields)s::text[], %(filters)s::text[],
                    %(extras)s::text[], %(use_rollup)s::boolean[])
             AS s(key, metric_id, event_type, agg, field, filters, extra, use_rollup)
    ),
    ranges AS (
        SELECT * FROM unnest(%(range_rollup)s::boolean[], %(range_lo)s::timestamptz[],
                             %(range_hi)s::timestamptz[]) AS g(use_rollup, lo, hi)
    ),
    wm AS (
        SELECT received_until - %(margin)s::interval AS cutoff
        FROM {_WATERMARK} WHERE name = %(watermark)s
    ),
    dirty AS MATERIALIZED (
        SELECT DISTINCT e.customer_id, {sql.hour_of("e.timestamp")} AS hour
        FROM {_EVENT} e
        WHERE e.customer_id = ANY(%(customers)s::bigint[]) AND e.event_type = ANY(%(rollup_types)s::text[])
          AND e.timestamp >= %(hs)s AND e.timestamp < %(he)s
          AND e.received_at >= coalesce((SELECT cutoff FROM wm), '-infinity'::timestamptz)
    ),
    -- LATERAL ... OFFSET 0 (not flattened) keeps each scan an index range scan on
    -- (customer, event_type, timestamp) instead of a hash join over the whole table.
    raw AS (
        SELECT e.customer_id, s.key, s.agg, s.field, e.properties
        FROM spec s
        JOIN ranges g ON g.use_rollup = s.use_rollup
        CROSS JOIN LATERAL (
            SELECT customer_id, properties FROM {_EVENT}
            WHERE customer_id = ANY(%(customers)s::bigint[]) AND event_type = s.event_type
              AND timestamp >= g.lo AND timestamp < g.hi
              AND properties @> s.filters AND properties @> s.extra
            OFFSET 0
        ) e
        UNION ALL
        SELECT e.customer_id, s.key, s.agg, s.field, e.properties
        FROM dirty d
        JOIN spec s ON s.use_rollup
        CROSS JOIN LATERAL (
            SELECT customer_id, properties FROM {_EVENT}
            WHERE customer_id = d.customer_id AND event_type = s.event_type
              AND timestamp >= d.hour AND timestamp < d.hour + interval '1 hour'
              AND properties @> s.filters AND properties @> s.extra
            OFFSET 0
        ) e
    ),
    contrib AS (
        SELECT customer_id, key, agg,
               CASE agg WHEN 'count' THEN 1::numeric WHEN 'unique_count' THEN NULL
                        ELSE {num} END AS num,
               CASE WHEN agg = 'unique_count' THEN {uval} END AS uval
        FROM raw
        UNION ALL
        SELECT r.customer_id, s.key, s.agg, r.value, NULL::jsonb
        FROM spec s JOIN {_ROLLUP} r ON r.metric_id = s.metric_id
        WHERE s.agg <> 'unique_count' AND {rollup_where}
        UNION ALL
        SELECT r.customer_id, s.key, s.agg, NULL::numeric, v.value
        FROM spec s JOIN {_ROLLUP} r ON r.metric_id = s.metric_id
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.distinct_values, '[]'::jsonb)) v
        WHERE s.agg = 'unique_count' AND {rollup_where}
    )
    SELECT customer_id, key,
           CASE WHEN agg = 'unique_count' THEN count(DISTINCT uval)::numeric
                WHEN agg = 'max' THEN max(num)
                ELSE sum(num) END
    FROM contrib
    GROUP BY customer_id, key, agg
    """
    return {
        (customer_id, key): tidy(value)
        for customer_id, key, value in sql.fetch_rows(statement, params)
        if value is not None
    }


# --- SQLite: the same plan in Python, inside one transaction ---------------------------


def _rollup_cutoff() -> dt.datetime | None:
    until = (
        RollupWatermark.objects.filter(name=WATERMARK_NAME)
        .values_list("received_until", flat=True)
        .first()
    )
    return None if until is None else until - rollup_safety_margin()


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
            for lo, hi in _raw_ranges(start, end, use_rollup) if chosen else ():
                feed(events_of(chosen).filter(timestamp__gte=lo, timestamp__lt=hi), chosen)
        if not rolled or whole is None:
            return {key: acc.value for key, acc in accs.items()}
        in_whole = events_of(rolled).filter(timestamp__gte=whole[0], timestamp__lt=whole[1])
        cutoff = _rollup_cutoff()
        if cutoff is not None:
            in_whole = in_whole.filter(received_at__gte=cutoff)
        dirty = {
            (cid, floor_hour(hour))
            for cid, hour in in_whole.annotate(hour=TruncHour("timestamp", tzinfo=dt.UTC))
            .values_list("customer_id", "hour")
            .distinct()
        }
        ordered = sorted(dirty)
        for i in range(0, len(ordered), _SQLITE_HOURS_PER_QUERY):
            chunk = ordered[i : i + _SQLITE_HOURS_PER_QUERY]
            hours = reduce(
                or_,
                (Q(customer_id=c, timestamp__gte=h, timestamp__lt=h + HOUR) for c, h in chunk),
            )
            feed(events_of(rolled).filter(hours), rolled)
        by_metric: dict[int, list[Spec]] = defaultdict(list)
        for spec in rolled:
            by_metric[spec.metric.pk].append(spec)
        rows = UsageRollup.objects.filter(
            customer_id__in=customer_ids,
            metric_id__in=by_metric,
            hour__gte=whole[0],
            hour__lt=whole[1],
        ).values_list("customer_id", "metric_id", "hour", "value", "event_count", "distinct_values")
        for cid, metric_id, hour, value, event_count, distinct_values in rows:
            if (cid, floor_hour(hour)) in dirty:
                continue
            for spec in by_metric[metric_id]:
                accs[(cid, spec.key)].add_rollup(
                    value=value, event_count=event_count, distinct_values=distinct_values
                )
    return {key: acc.value for key, acc in accs.items()}
