"""Breakdowns of one customer's events over any range (events, tokens and provider cost
by model, seat, latency tier, initiated_by or day), read the way ``usage/measure.py``
reads metric values and exact for the same reasons: the ``UsageBreakdown`` rows of the
whole hours, the tail of those hours received at or after the rollup cutoff, and the
partial edge hours raw.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q

from common.decimals import tidy
from usage import sql
from usage.aggregation import DIMENSIONS, SliceTotals, Spans, slice_keys, whole_hours
from usage.measure import (
    WATERMARK_PARAMS,
    at_one_watermark,
    cutoff_of,
    watermark_sql,
    watermark_until,
)
from usage.models import Event, UsageBreakdown, UsageBreakdownDay

DAY = "day"  # groups the all-events rows ("" dimension) by UTC day


@dataclass(frozen=True)
class Wanted:
    """One breakdown to read: a dimension (``aggregation.DIMENSIONS``, "" for all events,
    or DAY), of one event type or of all."""

    dimension: str
    event_type: str | None = None

    @property
    def stored(self) -> str:
        return "" if self.dimension == DAY else self.dimension

    def takes(self, dimension: str, event_type: str) -> bool:
        return self.stored == dimension and self.event_type in (None, event_type)


@dataclass(frozen=True)
class SliceKey:
    dimension: str  # as asked: one of aggregation.DIMENSIONS, "" or DAY
    member: str  # the dimension's value; "" for "", the ISO date for DAY
    event_type: str


def slices(
    *, customer_id: int, start: dt.datetime, end: dt.datetime, wanted: Sequence[Wanted],
) -> dict[SliceKey, SliceTotals]:
    """Totals per (dimension, member, event type) over ``[start, end)``; ``start`` and
    ``end`` are aware and ordered (``measure.check_range``)."""
    wanted = list(dict.fromkeys(wanted))
    if connection.vendor == "postgresql":
        return at_one_watermark(lambda cutoff: _slices_sql(customer_id, start, end, wanted, cutoff))
    return _slices_python(customer_id, start, end, wanted)


def _reads(wanted: Sequence[Wanted]) -> dict[str, list[str] | None]:
    """Per stored dimension, the event types to read (None: all)."""
    reads: dict[str, set[str] | None] = {}
    for w in wanted:
        if w.event_type is None or reads.get(w.stored, set()) is None:
            reads[w.stored] = None
        else:
            reads.setdefault(w.stored, set()).add(w.event_type)
    return {d: None if types is None else sorted(types) for d, types in sorted(reads.items())}


def _keys(wanted, dimension, member, event_type, hour_or_day) -> list[SliceKey]:
    keys = []
    for w in wanted:
        if w.takes(dimension, event_type):
            shown = (hour_or_day.astimezone(dt.UTC).date().isoformat()
                     if w.dimension == DAY else member)
            keys.append(SliceKey(w.dimension, shown, event_type))
    return keys


def _edges(start, end) -> tuple[tuple[dt.datetime, dt.datetime], list[tuple]]:
    whole = whole_hours(start, end)
    if whole is None:
        return (start, start), [(start, end)]
    return whole, [(lo, hi) for lo, hi in ((start, whole[0]), (whole[1], end)) if lo < hi]


# --- PostgreSQL: one statement -----------------------------------------------------------

_EVENT = Event._meta.db_table
_BREAKDOWN, _BREAKDOWN_DAY = UsageBreakdown._meta.db_table, UsageBreakdownDay._meta.db_table


def _conditions(reads, params, dimension: str, event_type: str) -> str:
    """Rows of the wanted (dimension, event types), in SQL, for columns named as given."""
    either = []
    for n, (stored, types) in enumerate(reads.items()):
        params[f"dim_{n}"], params[f"types_{n}"] = stored, types
        typed = "" if types is None else f" AND {event_type} = ANY(%(types_{n})s::text[])"
        either.append(f"({dimension} = %(dim_{n})s{typed})")
    return " OR ".join(either)


def _rollup_rows(spans: Spans, params: dict, wanted: str, by_day: bool) -> str:
    """UNION ALL branches reading the wanted rollup rows over the whole hours: day rows
    for whole days, hour rows around them."""
    selects = []
    for i, (lo, hi) in enumerate(spans.hours):
        params[f"rows_lo_{i}"], params[f"rows_hi_{i}"] = lo, hi
        day = sql.day_of("hour") if by_day else "NULL::timestamptz"
        selects.append((_BREAKDOWN, day, f"hour >= %(rows_lo_{i})s AND hour < %(rows_hi_{i})s"))
    if spans.days is not None:
        params["days_lo"], params["days_hi"] = spans.days
        day = "day" if by_day else "NULL::timestamptz"
        selects.append((_BREAKDOWN_DAY, day, "day >= %(days_lo)s AND day < %(days_hi)s"))
    return "".join(
        f"""
        UNION ALL
        SELECT event_type, {day}, dimension, member, events, input_tokens, output_tokens,
               total_tokens, provider_cost, unpriced
        FROM {table}
        WHERE customer_id = %(customer)s AND {where} AND ({wanted})"""
        for table, day, where in selects)


def _slices_sql(customer_id, start, end, wanted, cutoff):
    whole, edges = _edges(start, end)
    reads = _reads(wanted)
    by_day = any(w.dimension == DAY for w in wanted)
    params = {
        **WATERMARK_PARAMS, "customer": customer_id, "hs": whole[0], "he": whole[1],
        "cutoff": cutoff, "edge_lo": [lo for lo, _ in edges], "edge_hi": [hi for _, hi in edges],
    }
    inputs, outputs, total = sql.call_tokens("v")
    values = sql.token_values("e.properties")
    # Only the wanted dimensions' members; the others are "" and drop out of the keys.
    chosen = {name: sql.member("e", name) if name in reads else "''" for name in DIMENSIONS}
    members = ", ".join(f"{expression} AS {name}" for name, expression in chosen.items())
    event_day = "date_trunc('day', e.timestamp, 'UTC')" if by_day else "NULL::timestamptz"
    names = ", ".join(DIMENSIONS)
    v_names = ", ".join(f"v.{name}" for name in DIMENSIONS)
    keys = sql.slice_keys("g")
    raw_wanted = _conditions(reads, params, "k.dimension", "g.event_type")
    rows = _rollup_rows(Spans.of(*whole), params, _conditions(reads, params, "dimension",
                                                                 "event_type"), by_day)
    statement = f"""
    WITH RECURSIVE
    -- The customer's event types, one index probe each (a loose scan of the
    -- (customer_id, event_type, timestamp) index), so the edge hours are index ranges.
    types AS (
        (SELECT event_type FROM {_EVENT} WHERE customer_id = %(customer)s
         ORDER BY event_type LIMIT 1)
        UNION ALL
        SELECT (SELECT event_type FROM {_EVENT} WHERE customer_id = %(customer)s
                  AND event_type > t.event_type ORDER BY event_type LIMIT 1)
        FROM types t WHERE t.event_type IS NOT NULL
    ),
    events AS (
        SELECT e.* FROM types t
        CROSS JOIN unnest(%(edge_lo)s::timestamptz[], %(edge_hi)s::timestamptz[]) AS g(lo, hi)
        CROSS JOIN LATERAL (
            SELECT event_type, timestamp, model, seat, properties, provider_cost, unpriced
            FROM {_EVENT}
            WHERE customer_id = %(customer)s AND event_type = t.event_type
              AND timestamp >= g.lo AND timestamp < g.hi
            OFFSET 0
        ) e
        WHERE t.event_type IS NOT NULL
        UNION ALL
        SELECT event_type, timestamp, model, seat, properties, provider_cost, unpriced
        FROM {_EVENT}
        WHERE customer_id = %(customer)s AND received_at >= %(cutoff)s
          AND timestamp >= %(hs)s AND timestamp < %(he)s
    ),
    -- The raw events summed by type, members and day first (a few groups, however many
    -- events), then each sum counted in every dimension it has a member in.
    grouped AS (
        SELECT event_type, {names}, day, count(*) AS events,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(total_tokens) AS total_tokens, sum(provider_cost) AS provider_cost,
               count(*) FILTER (WHERE unpriced) AS unpriced
        FROM (
            SELECT v.event_type, {v_names}, v.day, v.provider_cost,
                   v.unpriced, {inputs} AS input_tokens, {outputs} AS output_tokens,
                   {total} AS total_tokens
            FROM (
                SELECT e.event_type, {members}, {event_day} AS day, e.provider_cost,
                       e.unpriced, {values}
                FROM events e OFFSET 0
            ) v OFFSET 0
        ) x
        GROUP BY event_type, {names}, day
    ),
    raw AS (
        SELECT g.event_type, g.day, k.dimension, k.member, g.events, g.input_tokens,
               g.output_tokens, g.total_tokens, g.provider_cost, g.unpriced
        FROM grouped g
        {keys}
        WHERE {raw_wanted}
        {rows}
    ),
    summed AS (
        SELECT dimension, member, event_type, day, sum(events) AS events,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(total_tokens) AS total_tokens, sum(provider_cost) AS provider_cost,
               sum(unpriced) AS unpriced
        FROM raw GROUP BY dimension, member, event_type, day
    )
    SELECT w.until, s.* FROM {watermark_sql()} AS w(until) LEFT JOIN summed s ON true
    """
    rows = sql.fetch_rows(statement, params, work_mem=sql.READ_WORK_MEM)
    found: dict[SliceKey, SliceTotals] = {}
    for _, dimension, member, event_type, day_start, *sums in rows:
        if dimension is None:
            continue  # the watermark's row when nothing matched
        for key in _keys(wanted, dimension, member, event_type, day_start):
            _add(found, key, sums)
    return rows[0][0], found


def _add(found, key: SliceKey, sums) -> None:
    events, inputs, outputs, total, cost, unpriced = sums
    found.setdefault(key, SliceTotals()).add(
        events=int(events), input_tokens=tidy(inputs), output_tokens=tidy(outputs),
        total_tokens=tidy(total), cost=tidy(cost), unpriced=int(unpriced),
    )


# --- SQLite: the same plan in Python, inside one transaction -----------------------------


def _slices_python(customer_id, start, end, wanted) -> dict[SliceKey, SliceTotals]:
    whole, edges = _edges(start, end)
    stored = set(_reads(wanted))
    found: dict[SliceKey, SliceTotals] = {}
    with transaction.atomic():
        cutoff = cutoff_of(watermark_until())
        where = Q(received_at__gte=cutoff, timestamp__gte=whole[0], timestamp__lt=whole[1])
        for lo, hi in edges:
            where |= Q(timestamp__gte=lo, timestamp__lt=hi)
        for event in Event.objects.filter(where, customer_id=customer_id).values(
            "event_type", "timestamp", "model", "seat", "properties", "provider_cost", "unpriced"
        ):
            for dimension, member in slice_keys(event):
                if dimension not in stored:
                    continue
                for key in _keys(wanted, dimension, member, event["event_type"],
                                 event["timestamp"]):
                    found.setdefault(key, SliceTotals()).add_event(event)
        spans = Spans.of(*whole)
        sources = [(UsageBreakdown.objects.filter(hour__gte=lo, hour__lt=hi), "hour")
                   for lo, hi in spans.hours]
        if spans.days is not None:
            sources.append((UsageBreakdownDay.objects.filter(
                day__gte=spans.days[0], day__lt=spans.days[1]), "day"))
        for rows, when in sources:
            for row in rows.filter(customer_id=customer_id, dimension__in=stored).values_list(
                "dimension", "member", "event_type", when, "events", "input_tokens",
                "output_tokens", "total_tokens", "provider_cost", "unpriced",
            ):
                dimension, member, event_type, when, *sums = row
                for key in _keys(wanted, dimension, member, event_type, when):
                    _add(found, key, sums)
    return found
