"""The measuring engine behind ``usage/selectors.py``: exact metric values for any range,
reading hourly rollups for whole hours and raw events only where no rollup row holds them.

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
  current C, which keeps the claim. By (2) no row goes stale in any other way.
So a range's whole hours are their rollup rows plus their events received at or after C
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

from plans.models import Metric
from usage import sql
from usage.aggregation import Accumulator, MetricRule, tidy, whole_hours
from usage.models import Event, RollupWatermark, UsageRollup

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
_ROLLUP = UsageRollup._meta.db_table


def _measure_sql(customer_ids, start, end, specs, cutoff):
    whole = whole_hours(start, end) or (start, start)  # empty: no whole hour to read
    ranges = [(use, lo, hi) for use in (True, False) for lo, hi in raw_ranges(start, end, use)]
    params = {
        **WATERMARK_PARAMS,
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
        "cutoff": cutoff,
    }
    num = sql.number("properties", "field")
    uval = sql.distinct_value("properties", "field")
    rollup_where = """s.use_rollup AND r.customer_id = ANY(%(customers)s::bigint[])
          AND r.hour >= %(hs)s AND r.hour < %(he)s"""
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
        -- The tail: events of the whole hours that no rollup row holds. The specs are
        -- joined per event (LATERAL, OFFSET 0) so the tail is read once, not per spec.
        SELECT e.customer_id, s.key, s.agg, s.field, e.properties
        FROM (
            SELECT customer_id, event_type, properties FROM {_EVENT}
            WHERE customer_id = ANY(%(customers)s::bigint[]) AND received_at >= %(cutoff)s
              AND event_type = ANY(%(rollup_types)s::text[])
              AND timestamp >= %(hs)s AND timestamp < %(he)s
            OFFSET 0
        ) e
        CROSS JOIN LATERAL (
            SELECT key, agg, field FROM spec
            WHERE use_rollup AND event_type = e.event_type AND e.properties @> filters
            OFFSET 0
        ) s
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
    ),
    totals AS (
        SELECT customer_id, key,
               CASE WHEN agg = 'unique_count' THEN count(DISTINCT uval)::numeric
                    WHEN agg = 'max' THEN max(num)
                    ELSE sum(num) END AS value
        FROM contrib
        GROUP BY customer_id, key, agg
    )
    SELECT w.until, t.customer_id, t.key, t.value
    FROM {watermark_sql()} AS w(until) LEFT JOIN totals t ON true
    """
    rows = sql.fetch_rows(statement, params)
    values = {
        (customer_id, key): tidy(value)
        for _, customer_id, key, value in rows
        if key is not None and value is not None
    }
    return rows[0][0], values


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
        rows = UsageRollup.objects.filter(
            customer_id__in=customer_ids,
            metric_id__in=by_metric,
            hour__gte=whole[0],
            hour__lt=whole[1],
        ).values_list("customer_id", "metric_id", "value", "event_count", "distinct_values")
        for cid, metric_id, value, event_count, distinct_values in rows:
            for spec in by_metric[metric_id]:
                accs[(cid, spec.key)].add_rollup(
                    value=value, event_count=event_count, distinct_values=distinct_values
                )
    return {key: acc.value for key, acc in accs.items()}
