"""Day rows: each UTC day's hour rows summed (``UsageRollupDay``, ``UsageBreakdownDay``),
so a read of a long range reads a row per day instead of 24.

The rollup job rewrites the day rows of every day whose hour rows it recomputed, in the
same transaction, from those hour rows: a day row always equals the sum of its hours,
and the exactness argument of ``usage/measure.py`` carries over to it unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from django.db import connection

from plans.models import Metric
from usage import sql
from usage.aggregation import DIMENSIONS, ONE_DAY, Accumulator, SliceTotals
from usage.models import UsageBreakdown, UsageBreakdownDay, UsageRollup, UsageRollupDay

# The days a recompute touched, from its statement to the next (one per session, emptied
# at commit).
DAYS = "usage_rollup_days"
_METRIC = Metric._meta.db_table
_ROLLUP, _ROLLUP_DAY = UsageRollup._meta.db_table, UsageRollupDay._meta.db_table
_BREAKDOWN, _BREAKDOWN_DAY = UsageBreakdown._meta.db_table, UsageBreakdownDay._meta.db_table


def prepare_sql() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {DAYS} (customer_id bigint,"
                       " event_type text, day timestamptz) ON COMMIT DELETE ROWS")


def note_sql(dirty: str) -> str:
    """A data-modifying CTE noting the days of the (customer, event type, hour) groups of
    the CTE ``dirty``, for :func:`recompute_sql`."""
    return (f"noted AS (INSERT INTO {DAYS} (customer_id, event_type, day)"
            f" SELECT DISTINCT customer_id, event_type, {sql.day_of('hour')} FROM {dirty}"
            " RETURNING 1)")


def recompute_sql() -> None:
    """Rewrite the day rows of the days noted in this transaction from their hour rows."""
    kinds = ", ".join(f"('{name}')" for name in ("", *DIMENSIONS))
    statement = f"""
    WITH gone AS (DELETE FROM {DAYS} RETURNING customer_id, event_type, day),
    days AS MATERIALIZED (SELECT DISTINCT customer_id, event_type, day FROM gone),
    hours AS MATERIALIZED (
        SELECT r.customer_id, r.metric_id, d.day, m.aggregation, r.value, r.event_count,
               r.distinct_values, r.provider_cost
        FROM days d
        JOIN {_METRIC} m ON m.event_type = d.event_type
        JOIN {_ROLLUP} r ON r.customer_id = d.customer_id AND r.metric_id = m.id
                        AND r.hour >= d.day AND r.hour < d.day + interval '1 day'
    ),
    summed AS (
        SELECT customer_id, metric_id, day, aggregation,
               CASE WHEN aggregation = 'max' THEN max(value) ELSE sum(value) END AS value,
               sum(event_count) AS event_count, sum(provider_cost) AS provider_cost
        FROM hours GROUP BY customer_id, metric_id, day, aggregation
    ),
    united AS (
        SELECT customer_id, metric_id, day, jsonb_agg(DISTINCT v.value ORDER BY v.value) AS vals
        FROM hours CROSS JOIN LATERAL jsonb_array_elements(distinct_values) v
        WHERE aggregation = 'unique_count'
        GROUP BY customer_id, metric_id, day
    ),
    upserted AS (
        INSERT INTO {_ROLLUP_DAY} AS r (customer_id, metric_id, day, value, event_count,
                                        distinct_values, provider_cost)
        SELECT s.customer_id, s.metric_id, s.day,
               CASE WHEN s.aggregation = 'unique_count'
                    THEN jsonb_array_length(coalesce(u.vals, '[]'))::numeric ELSE s.value END,
               s.event_count,
               CASE WHEN s.aggregation = 'unique_count' THEN coalesce(u.vals, '[]'::jsonb) END,
               s.provider_cost
        FROM summed s LEFT JOIN united u USING (customer_id, metric_id, day)
        ON CONFLICT (customer_id, metric_id, day) DO UPDATE SET
            value = EXCLUDED.value, event_count = EXCLUDED.event_count,
            distinct_values = EXCLUDED.distinct_values, provider_cost = EXCLUDED.provider_cost
        RETURNING r.customer_id, r.metric_id, r.day
    ),
    -- Days whose hour rows of a metric are all gone (its filters changed).
    deleted AS (
        DELETE FROM {_ROLLUP_DAY} r USING {_METRIC} m, days d
        WHERE r.metric_id = m.id AND m.event_type = d.event_type
          AND r.customer_id = d.customer_id AND r.day = d.day
          AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u.customer_id = r.customer_id
                          AND u.metric_id = r.metric_id AND u.day = r.day)
        RETURNING 1
    ),
    -- Breakdown rows never go stale (their hours' rows only grow), so no delete.
    sliced AS (
        INSERT INTO {_BREAKDOWN_DAY} AS b (customer_id, dimension, event_type, day, member,
                                           events, input_tokens, output_tokens, total_tokens,
                                           provider_cost, unpriced)
        SELECT h.customer_id, h.dimension, h.event_type, d.day, h.member, sum(h.events),
               sum(h.input_tokens), sum(h.output_tokens), sum(h.total_tokens),
               sum(h.provider_cost), sum(h.unpriced)
        FROM days d
        CROSS JOIN (VALUES {kinds}) AS k(dimension)
        JOIN {_BREAKDOWN} h ON h.customer_id = d.customer_id AND h.dimension = k.dimension
                           AND h.event_type = d.event_type
                           AND h.hour >= d.day AND h.hour < d.day + interval '1 day'
        GROUP BY h.customer_id, h.dimension, h.event_type, d.day, h.member
        ON CONFLICT (customer_id, dimension, event_type, day, member) DO UPDATE SET
            events = EXCLUDED.events, input_tokens = EXCLUDED.input_tokens,
            output_tokens = EXCLUDED.output_tokens, total_tokens = EXCLUDED.total_tokens,
            provider_cost = EXCLUDED.provider_cost, unpriced = EXCLUDED.unpriced
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM days), (SELECT count(*) FROM upserted),
           (SELECT count(*) FROM deleted), (SELECT count(*) FROM sliced)
    """
    sql.fetch_rows(statement, {})


def recompute_python(touched: Mapping[tuple[int, dt.datetime], set[str]]) -> None:
    """The same for SQLite: ``touched`` maps (customer, day) to the event types recomputed."""
    metrics_by_type: dict[str, list[Metric]] = defaultdict(list)
    for metric in Metric.objects.all():
        metrics_by_type[metric.event_type].append(metric)
    for (customer_id, day), types in touched.items():
        metrics = [m for event_type in types for m in metrics_by_type[event_type]]
        _metric_day(customer_id, day, metrics)
        _slice_day(customer_id, day, types)


def _metric_day(customer_id: int, day: dt.datetime, metrics: list[Metric]) -> None:
    rows = []
    for metric in metrics:
        acc, count, cost = Accumulator(metric.aggregation), 0, 0
        for value, event_count, distinct_values, provider_cost in UsageRollup.objects.filter(
            customer_id=customer_id, metric=metric, hour__gte=day, hour__lt=day + ONE_DAY,
        ).values_list("value", "event_count", "distinct_values", "provider_cost"):
            acc.add_rollup(value=value, event_count=event_count, distinct_values=distinct_values)
            count, cost = count + event_count, cost + provider_cost
        if count:
            unique = metric.aggregation == Metric.Aggregation.UNIQUE_COUNT
            rows.append(UsageRollupDay(
                customer_id=customer_id, metric=metric, day=day, value=acc.value,
                event_count=count, provider_cost=cost,
                distinct_values=acc.distinct_values() if unique else None,
            ))
    UsageRollupDay.objects.filter(customer_id=customer_id, day=day, metric__in=metrics).delete()
    UsageRollupDay.objects.bulk_create(rows)


def _slice_day(customer_id: int, day: dt.datetime, types: set[str]) -> None:
    sums: dict[tuple[str, str, str], SliceTotals] = {}
    for dimension, event_type, member, *values in UsageBreakdown.objects.filter(
        customer_id=customer_id, event_type__in=types, hour__gte=day, hour__lt=day + ONE_DAY,
    ).values_list("dimension", "event_type", "member", "events", "input_tokens",
                  "output_tokens", "total_tokens", "provider_cost", "unpriced"):
        events, inputs, outputs, total, cost, unpriced = values
        sums.setdefault((dimension, event_type, member), SliceTotals()).add(
            events=events, input_tokens=inputs, output_tokens=outputs, total_tokens=total,
            cost=cost, unpriced=unpriced)
    UsageBreakdownDay.objects.filter(customer_id=customer_id, day=day,
                                     event_type__in=types).delete()
    UsageBreakdownDay.objects.bulk_create(
        UsageBreakdownDay(customer_id=customer_id, dimension=dimension, event_type=event_type,
                          day=day, member=member, events=t.events, input_tokens=t.input_tokens,
                          output_tokens=t.output_tokens, total_tokens=t.total_tokens,
                          provider_cost=t.cost, unpriced=t.unpriced)
        for (dimension, event_type, member), t in sums.items())
