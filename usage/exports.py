"""Usage reads for the portal's CSV exports: one customer's usage per day and metric, and
the raw events behind a usage line. Both are generators, so an export of a year of days
or a million events is written out as it is read and never sits in memory.

Like every read of the usage tables, they live in the usage app (``usage/selectors.py``
holds the shared ones); the portal's views only turn the rows into CSV.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from accounts.models import Customer
from common.decimals import tidy
from plans.models import Metric
from usage.aggregation import matches_all, to_number
from usage.measure import check_range
from usage.models import Event
from usage.series import daily_values

# Rows fetched per round trip: a server-side cursor on PostgreSQL hands them over in
# batches of this many, so memory holds one batch whatever the export's size.
EVENT_CHUNK_SIZE = 2000


@dataclass(frozen=True)
class DailyUsage:
    day: dt.date
    metric: str
    value: Decimal


def daily_usage(
    *, customer: Customer, start: dt.date, end: dt.date, metrics: Iterable[Metric],
) -> Iterator[DailyUsage]:
    """Each metric's exact value on each UTC day of ``[start, end)``, day by day, metrics
    by code: what ``usage_totals`` gives for that day alone (the day's rollup row, plus
    the events no rollup holds yet), so the values are those of the dashboard and the
    invoices. One read for the whole range (``usage.series.daily_values``); a range is a
    year at most, a few thousand values, so they are held, unlike events."""
    chosen = sorted(metrics, key=lambda m: m.code)
    if not chosen or end <= start:
        return
    values = daily_values(customer=customer, start=_midnight(start), end=_midnight(end),
                          metrics=chosen)
    for index, (day, _) in enumerate(values[chosen[0].code]):
        for metric in chosen:
            yield DailyUsage(day=day, metric=metric.code, value=values[metric.code][index][1])


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


@dataclass(frozen=True)
class EventRow:
    timestamp: dt.datetime
    transaction_id: str
    event_type: str
    # What the event adds to the metric: 1 for a count, the number summed or maxed (None
    # when it has none), the property's value for a unique count.
    value: Decimal | str | None
    model: str
    seat: str
    provider_cost: Decimal
    received_at: dt.datetime
    properties: Mapping


def metric_events(
    *, customer: Customer, metric: Metric, start: dt.datetime, end: dt.datetime,
    filters: Mapping | None = None, chunk_size: int = EVENT_CHUNK_SIZE,
) -> Iterator[EventRow]:
    """The events ``metric`` (narrowed by a charge's ``filters``) reads for ``customer``
    over ``[start, end)``, oldest first, each with what it adds to the metric: the
    property summed, maxed or counted distinct, or 1 for a count.

    Read through ``QuerySet.iterator(chunk_size=...)``: a named (server-side) cursor on
    PostgreSQL, fetched ``chunk_size`` rows at a time. PostgreSQL applies the JSON
    filters (``@>``, as the rollups do); SQLite has no such operator, so they are applied
    here, row by row, with the same containment rule (``usage.aggregation``).
    """
    start, end = check_range(start, end)
    filter_sets = [f for f in (metric.filters, filters) if f]
    events = Event.objects.filter(
        customer=customer, event_type=metric.event_type, timestamp__gte=start, timestamp__lt=end,
    )
    in_database = connection.vendor == "postgresql"
    if in_database:
        for wanted in filter_sets:
            events = events.filter(properties__contains=wanted)
    rows = events.order_by("timestamp", "transaction_id").values_list(
        "timestamp", "transaction_id", "event_type", "model", "seat", "provider_cost",
        "received_at", "properties",
    ).iterator(chunk_size=chunk_size)
    counting = metric.aggregation == Metric.Aggregation.COUNT
    for timestamp, transaction_id, event_type, model, seat, cost, received_at, properties in rows:
        if not in_database and not matches_all(properties, filter_sets):
            continue
        value = Decimal(1) if counting else _value(properties, metric)
        yield EventRow(
            timestamp=timestamp, transaction_id=transaction_id, event_type=event_type,
            value=value, model=model, seat=seat, provider_cost=tidy(cost),
            received_at=received_at, properties=properties,
        )


def _value(properties: Mapping, metric: Metric) -> Decimal | str | None:
    raw = properties.get(metric.field) if metric.field else None
    if metric.aggregation == Metric.Aggregation.UNIQUE_COUNT:
        return None if raw is None else raw if isinstance(raw, str) else json.dumps(raw)
    number = to_number(raw)
    return None if number is None else tidy(number)
