"""Hourly usage rollups, recomputed, never incremented: one row per (customer, metric,
hour) in ``UsageRollup``, and per (customer, hour, event type, dimension, member) in
``UsageBreakdown``.

The job reads what *arrived* since its last run (``received_at``, served by the BRIN
index) rather than what *happened* (``timestamp``), so late events with old timestamps
update their old hour. Each touched (customer, hour, event type) is recomputed in full
from raw events, which makes a run idempotent and lets it repeat work safely. A
recompute counts exactly the events received before the *cutoff* (the new watermark
minus the safety margin), all of which have committed; the events after it are the
readers' to read raw.

Writers serialize on the watermark row's lock: without that, a recompute that read the
events earlier could commit later and overwrite a fresher row. The exactness argument
that the usage selectors rely on is in ``usage/measure.py``.

Metrics created or edited after events exist are not retro-applied by the job; after such
a change run ``rollup_rebuild``::

    python manage.py shell -c "from usage.rollups import rollup_rebuild; rollup_rebuild()"
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models.functions import TruncHour

from accounts.models import Customer
from plans.models import Metric
from usage import rollup_days, sql
from usage.aggregation import DIMENSIONS, HOUR, floor_day, floor_hour, rollup_hour, slice_hour
from usage.measure import (
    NOTHING_ROLLED_UP,
    WATERMARK_NAME,
    metric_rule,
    rollup_safety_margin,
)
from usage.models import (
    Event,
    RollupWatermark,
    UsageBreakdown,
    UsageBreakdownDay,
    UsageRollup,
    UsageRollupDay,
)


@dataclass(frozen=True)
class _Received:
    """Groups with an event that arrived in ``[since, until)``."""

    since: dt.datetime
    until: dt.datetime


@dataclass(frozen=True)
class _Hours:
    """Every event type that has a metric, for one customer's given hours."""

    customer_id: int
    hours: tuple[dt.datetime, ...]


@dataclass(frozen=True)
class _Customer:
    """Every hour in which one customer has events."""

    customer_id: int


_Dirty = _Received | _Hours | _Customer


@transaction.atomic
def rollup_usage(*, now: dt.datetime) -> int:
    """Recompute the hours touched by events received between the last run's cutoff and
    this one's; returns the number of (customer, hour, event type) groups recomputed.

    The cutoff is a safety margin before ``now`` because an event's ``received_at`` is
    taken before its transaction commits: events received before ``now - margin`` have
    all committed, later ones may not have yet and wait for the next run.
    """
    now = sql.as_utc(now)
    watermark = _lock_watermark()
    margin = rollup_safety_margin()
    since, until = watermark.received_until - margin, now - margin
    groups = _recompute(_Received(since=since, until=until), cutoff=until) if since < until else 0
    if now > watermark.received_until:
        watermark.received_until = now
        watermark.save(update_fields=["received_until"])
    return groups


@transaction.atomic
def rollup_hours(*, customer_id: int, hours: Iterable[dt.datetime]) -> int:
    """Recompute the given hours of one customer for every metric, now."""
    aligned = tuple(sorted({floor_hour(sql.as_utc(h)) for h in hours}))
    if not aligned:
        return 0
    return _recompute(_Hours(customer_id=customer_id, hours=aligned), cutoff=_locked_cutoff())


def rollup_rebuild(*, customer_id: int | None = None) -> int:
    """Recompute every rollup of one customer, or of all customers, from raw events.

    For all customers, each customer is its own transaction, so readers never wait on one
    huge one and a crash halfway loses nothing already rebuilt.
    """
    if customer_id is not None:
        return _rebuild_customer(customer_id=customer_id)
    # Every customer, not DISTINCT over the events table: that would scan all of it.
    customer_ids = Customer.objects.order_by("pk").values_list("pk", flat=True)
    return sum(_rebuild_customer(customer_id=cid) for cid in list(customer_ids))


@transaction.atomic
def _rebuild_customer(*, customer_id: int) -> int:
    cutoff = _locked_cutoff()
    for model in (UsageRollup, UsageRollupDay, UsageBreakdown, UsageBreakdownDay):
        model.objects.filter(customer_id=customer_id).delete()
    return _recompute(_Customer(customer_id=customer_id), cutoff=cutoff)


def _lock_watermark() -> RollupWatermark:
    # The row is created once with a time before any event, meaning "nothing rolled up";
    # ignore_conflicts makes two first runs at once safe.
    RollupWatermark.objects.bulk_create(
        [RollupWatermark(name=WATERMARK_NAME, received_until=NOTHING_ROLLED_UP)],
        ignore_conflicts=True,
    )
    return RollupWatermark.objects.select_for_update().get(name=WATERMARK_NAME)


def _locked_cutoff() -> dt.datetime:
    """The current cutoff, with the watermark locked so no run moves it meanwhile."""
    return _lock_watermark().received_until - rollup_safety_margin()


def _recompute(dirty: _Dirty, *, cutoff: dt.datetime) -> int:
    if connection.vendor == "postgresql":
        return _recompute_sql(dirty, cutoff)
    return _recompute_python(dirty, cutoff)


# --- PostgreSQL: one statement finds the groups, upserts their rows, deletes stale ones ---

_EVENT = Event._meta.db_table
_ROLLUP = UsageRollup._meta.db_table
_BREAKDOWN = UsageBreakdown._meta.db_table
_METRIC = Metric._meta.db_table


def _dirty_sql(dirty: _Dirty) -> tuple[str, dict]:
    hour = sql.hour_of("timestamp")
    if isinstance(dirty, _Received):
        return (
            f"SELECT DISTINCT customer_id, event_type, {hour} AS hour FROM {_EVENT}"
            " WHERE received_at >= %(since)s AND received_at < %(until)s",
            {"since": dirty.since, "until": dirty.until},
        )
    if isinstance(dirty, _Hours):
        # Every type with a metric (to drop rows a metric no longer matches) or with events
        # in these hours (for the breakdown rows).
        return (
            "SELECT %(customer_id)s::bigint AS customer_id, t.event_type, h.hour"
            " FROM unnest(%(hours)s::timestamptz[]) AS h(hour)"
            f" CROSS JOIN (SELECT DISTINCT event_type FROM (SELECT event_type FROM {_METRIC}"
            f" UNION ALL SELECT event_type FROM {_EVENT} WHERE customer_id = %(customer_id)s"
            " AND timestamp >= %(first)s AND timestamp < %(last)s) AS u) AS t",
            {"customer_id": dirty.customer_id, "hours": list(dirty.hours),
             "first": dirty.hours[0], "last": dirty.hours[-1] + HOUR},
        )
    return (
        f"SELECT DISTINCT customer_id, event_type, {hour} AS hour FROM {_EVENT}"
        " WHERE customer_id = %(customer_id)s",
        {"customer_id": dirty.customer_id},
    )


# A large run's computed rows may pass the default 4 MB; they spill to disk past this.
_ROLLUP_WORK_MEM = "64MB"


def _recompute_sql(dirty: _Dirty, cutoff: dt.datetime) -> int:
    dirty_sql, params = _dirty_sql(dirty)
    params = {**params, "cutoff": cutoff}
    num, uval = sql.number("h.value"), sql.distinct("h.value")
    inputs, outputs, total = sql.call_tokens("v")
    values = sql.token_values("e.properties")
    members = ", ".join(f"{sql.member('e', name)} AS {name}" for name in DIMENSIONS)
    names = ", ".join(DIMENSIONS)
    v_names = ", ".join(f"v.{name}" for name in DIMENSIONS)
    slice_keys = sql.slice_keys("s")
    nothing = "NULL::text, NULL::text, NULL::bigint, NULL::numeric, NULL::numeric, NULL::numeric, NULL::bigint"
    # Per group, one index range scan over that customer-hour's events received before
    # the cutoff (a global GROUP BY would sort every event of the window), kept for the
    # group's metric rows and breakdown rows, which are all computed right there: a
    # metric has one event type, so all its events of the hour are in the group.
    # Distinct values are only collected for unique_count metrics (they need a sort).
    statement = f"""
    WITH dirty AS MATERIALIZED ({dirty_sql}),
    {rollup_days.note_sql("dirty")},
    computed AS MATERIALIZED (
        SELECT d.customer_id, d.event_type, d.hour, x.*
        FROM dirty d
        CROSS JOIN LATERAL (
            WITH grp AS MATERIALIZED (
                SELECT v.properties, v.provider_cost, v.unpriced, {v_names},
                       {inputs} AS input_tokens, {outputs} AS output_tokens,
                       {total} AS total_tokens
                FROM (
                    SELECT e.properties, e.provider_cost, e.unpriced, {members}, {values}
                    FROM {_EVENT} e
                    WHERE e.customer_id = d.customer_id AND e.event_type = d.event_type
                      AND e.timestamp >= d.hour AND e.timestamp < d.hour + interval '1 hour'
                      AND e.received_at < %(cutoff)s
                    OFFSET 0
                ) v
            ),
            hits AS MATERIALIZED (
                SELECT metric_id, aggregation, provider_cost,
                       CASE WHEN aggregation IN ('sum', 'max') THEN {num} END AS num,
                       CASE WHEN aggregation = 'unique_count' THEN {uval} END AS uval
                FROM (
                    SELECT m.id AS metric_id, m.aggregation, g.provider_cost,
                           g.properties -> m.field AS value
                    FROM grp g
                    JOIN {_METRIC} m ON m.event_type = d.event_type
                                    AND g.properties @> m.filters
                    OFFSET 0
                ) h
            )
            SELECT 'metric' AS kind, metric_id,
                   CASE aggregation
                       WHEN 'count' THEN count(*)::numeric
                       WHEN 'sum' THEN coalesce(sum(num), 0)
                       ELSE max(num)
                   END AS value,
                   count(*) AS event_count, NULL::jsonb AS distinct_values,
                   coalesce(sum(provider_cost), 0) AS provider_cost,
                   NULL::text AS dimension, NULL::text AS member, NULL::bigint AS events,
                   NULL::numeric AS input_tokens, NULL::numeric AS output_tokens,
                   NULL::numeric AS total_tokens, NULL::bigint AS unpriced
            -- an event without a number cannot raise a maximum (aggregation.MetricRule)
            FROM hits
            WHERE aggregation <> 'unique_count' AND (aggregation <> 'max' OR num IS NOT NULL)
            GROUP BY metric_id, aggregation
            UNION ALL
            SELECT 'metric', metric_id, jsonb_array_length(v)::numeric, event_count, v,
                   provider_cost, {nothing}
            FROM (
                SELECT metric_id, count(*) AS event_count,
                       coalesce(jsonb_agg(DISTINCT uval ORDER BY uval)
                                    FILTER (WHERE uval IS NOT NULL), '[]'::jsonb) AS v,
                       coalesce(sum(provider_cost), 0) AS provider_cost
                FROM hits WHERE aggregation = 'unique_count'
                GROUP BY metric_id
            ) u
            UNION ALL
            -- Breakdown rows: the events summed by their members first, then each sum
            -- counted in every dimension it has a member in.
            SELECT 'slice', NULL, NULL, NULL, NULL, sum(s.provider_cost), k.dimension,
                   k.member, sum(s.events), sum(s.input_tokens), sum(s.output_tokens),
                   sum(s.total_tokens), sum(s.unpriced)
            FROM (
                SELECT {names}, count(*) AS events, sum(input_tokens) AS input_tokens,
                       sum(output_tokens) AS output_tokens, sum(total_tokens) AS total_tokens,
                       sum(provider_cost) AS provider_cost,
                       count(*) FILTER (WHERE unpriced) AS unpriced
                FROM grp GROUP BY {names}
            ) s
            {slice_keys}
            GROUP BY k.dimension, k.member
        ) x
    ),
    upserted AS (
        INSERT INTO {_ROLLUP} AS r (customer_id, metric_id, hour, value, event_count,
                                    distinct_values, provider_cost, updated_at)
        SELECT customer_id, metric_id, hour, value, event_count, distinct_values,
               provider_cost, statement_timestamp()
        FROM computed WHERE kind = 'metric'
        ON CONFLICT (customer_id, metric_id, hour) DO UPDATE SET
            value = EXCLUDED.value, event_count = EXCLUDED.event_count,
            distinct_values = EXCLUDED.distinct_values,
            provider_cost = EXCLUDED.provider_cost, updated_at = EXCLUDED.updated_at
        RETURNING r.customer_id, r.metric_id, r.hour
    ),
    -- Rows of a recomputed group that the recompute no longer produces (a metric's
    -- filters changed). The DELETE sees the table as it was before this statement,
    -- so it never touches a row the upsert wrote. No breakdown row ever goes stale: a
    -- group's members depend only on its events, which are only ever added.
    deleted AS (
        DELETE FROM {_ROLLUP} r USING {_METRIC} m, dirty d
        WHERE r.metric_id = m.id AND r.customer_id = d.customer_id AND r.hour = d.hour
          AND m.event_type = d.event_type
          AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u.customer_id = r.customer_id
                          AND u.metric_id = r.metric_id AND u.hour = r.hour)
        RETURNING 1
    ),
    sliced AS (
        INSERT INTO {_BREAKDOWN} AS b (customer_id, dimension, event_type, hour, member,
                                       events, input_tokens, output_tokens, total_tokens,
                                       provider_cost, unpriced)
        SELECT customer_id, dimension, event_type, hour, member, events, input_tokens,
               output_tokens, total_tokens, provider_cost, unpriced
        FROM computed WHERE kind = 'slice'
        ON CONFLICT (customer_id, dimension, event_type, hour, member) DO UPDATE SET
            events = EXCLUDED.events, input_tokens = EXCLUDED.input_tokens,
            output_tokens = EXCLUDED.output_tokens, total_tokens = EXCLUDED.total_tokens,
            provider_cost = EXCLUDED.provider_cost, unpriced = EXCLUDED.unpriced
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM dirty), (SELECT count(*) FROM upserted),
           (SELECT count(*) FROM deleted), (SELECT count(*) FROM sliced),
           (SELECT count(*) FROM noted)
    """
    rollup_days.prepare_sql()
    (groups, *_written), = sql.fetch_rows(statement, params, work_mem=_ROLLUP_WORK_MEM)
    rollup_days.recompute_sql()
    return groups


# --- SQLite: the same recompute in Python, one customer-hour at a time ---------------


def _dirty_groups(dirty: _Dirty) -> dict[tuple[int, dt.datetime], set[str]]:
    groups: dict[tuple[int, dt.datetime], set[str]] = defaultdict(set)
    if isinstance(dirty, _Hours):
        types = set(Metric.objects.values_list("event_type", flat=True))
        types |= set(Event.objects.filter(
            customer_id=dirty.customer_id, timestamp__gte=dirty.hours[0],
            timestamp__lt=dirty.hours[-1] + HOUR,
        ).values_list("event_type", flat=True).distinct())
        for hour in dirty.hours:
            groups[(dirty.customer_id, hour)] |= types
        return groups
    events = Event.objects.all()
    if isinstance(dirty, _Received):
        events = events.filter(received_at__gte=dirty.since, received_at__lt=dirty.until)
    else:
        events = events.filter(customer_id=dirty.customer_id)
    rows = (
        events.annotate(hour=TruncHour("timestamp", tzinfo=dt.UTC))
        .values_list("customer_id", "event_type", "hour")
        .distinct()
    )
    for customer_id, event_type, hour in rows:
        groups[(customer_id, floor_hour(hour))].add(event_type)
    return groups


def _recompute_python(dirty: _Dirty, cutoff: dt.datetime) -> int:
    metrics_by_type: dict[str, list[Metric]] = defaultdict(list)
    for metric in Metric.objects.all():
        metrics_by_type[metric.event_type].append(metric)
    groups = _dirty_groups(dirty)
    touched: dict[tuple[int, dt.datetime], set[str]] = defaultdict(set)
    for (customer_id, hour), types in groups.items():
        touched[(customer_id, floor_day(hour))] |= types
        events = list(
            Event.objects.filter(
                customer_id=customer_id,
                event_type__in=types,
                timestamp__gte=hour,
                timestamp__lt=hour + HOUR,
                received_at__lt=cutoff,
            ).values("event_type", "properties", "provider_cost", "model", "seat", "unpriced")
        )
        metrics = [m for event_type in types for m in metrics_by_type[event_type]]
        rows = []
        for metric in metrics:
            rolled = rollup_hour(events, metric_rule(metric))
            if rolled is not None:
                rows.append(
                    UsageRollup(
                        customer_id=customer_id,
                        metric=metric,
                        hour=hour,
                        value=rolled.value,
                        event_count=rolled.event_count,
                        distinct_values=rolled.distinct_values,
                        provider_cost=rolled.provider_cost,
                    )
                )
        UsageRollup.objects.filter(customer_id=customer_id, hour=hour, metric__in=metrics).delete()
        UsageRollup.objects.bulk_create(rows)
        UsageBreakdown.objects.filter(customer_id=customer_id, hour=hour,
                                      event_type__in=types).delete()
        UsageBreakdown.objects.bulk_create(_breakdown_rows(customer_id, hour, events))
    rollup_days.recompute_python(touched)
    return sum(len(types) for types in groups.values())


def _breakdown_rows(customer_id: int, hour: dt.datetime, events: list[dict]):
    by_type: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_type[event["event_type"]].append(event)
    for event_type, typed in by_type.items():
        for (dimension, member), totals in slice_hour(typed).items():
            yield UsageBreakdown(
                customer_id=customer_id, dimension=dimension, event_type=event_type,
                hour=hour, member=member, events=totals.events,
                input_tokens=totals.input_tokens, output_tokens=totals.output_tokens,
                total_tokens=totals.total_tokens, provider_cost=totals.cost,
                unpriced=totals.unpriced,
            )
