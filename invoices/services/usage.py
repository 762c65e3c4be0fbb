"""Usage values for many customer-periods at once, for the billing run and the preview.

Two ways to the same numbers:

- ``usage.selectors.charge_usage_many`` (rollups plus raw edges, per customer list):
  the default, and the only way on SQLite. Requests sharing a window and a price book
  go together, one statement each.
- A *window scan* on PostgreSQL when a window has many customers (a monthly billing run
  bills most customers on the same period): one statement reads the window's events
  once, in a customer-id range, and aggregates every charge of every price book with a
  ``FILTER`` per charge. Index lookups per customer cost more than reading the whole
  window once, and rollups barely shrink the data when customers have a few events per
  hour. The arithmetic (what is a number, how filters match, what ``unique_count``
  counts) is the usage app's, from ``usage.sql``; ``tests/invoices/test_usage_scan.py``
  checks both ways agree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection

from usage import sql
from usage.aggregation import tidy
from usage.models import Event
from usage.selectors import ChargeUsage, charge_usage_many

ZERO = Decimal(0)
DEFAULT_SCAN_MIN_CUSTOMERS = 1000


@dataclass(frozen=True)
class UsageRequest:
    customer_id: int
    start: dt.datetime
    end: dt.datetime
    book: Hashable  # requests with the same book ask for the same charges
    charges: tuple[ChargeUsage, ...]


def scan_min_customers() -> int:
    return int(getattr(settings, "BILLING_USAGE_SCAN_MIN_CUSTOMERS", DEFAULT_SCAN_MIN_CUSTOMERS))


def load_usage(requests: Sequence[UsageRequest]) -> list[dict[str, Decimal]]:
    """Per request, charge key → value over ``[start, end)``; in request order."""
    answers: list[dict[str, Decimal]] = [{} for _ in requests]
    windows: dict[tuple, list[int]] = defaultdict(list)
    for index, request in enumerate(requests):
        if request.charges:
            windows[(request.start, request.end)].append(index)
    for (start, end), indexes in windows.items():
        customers = {requests[i].customer_id for i in indexes}
        if connection.vendor == "postgresql" and len(customers) >= scan_min_customers():
            _scan_window(start, end, [requests[i] for i in indexes], answers, indexes)
        else:
            _by_book(start, end, requests, indexes, answers)
    return answers


def _by_book(start, end, requests, indexes, answers) -> None:
    books: dict[Hashable, list[int]] = defaultdict(list)
    for i in indexes:
        books[requests[i].book].append(i)
    for members in books.values():
        values = charge_usage_many(
            customer_ids=sorted({requests[i].customer_id for i in members}),
            start=start, end=end, charges=requests[members[0]].charges,
        )
        for i in members:
            answers[i] = dict(values[requests[i].customer_id])


@dataclass(frozen=True)
class _Measure:
    """What one charge measures, independent of its key and price book."""

    event_type: str
    aggregation: str
    field: str
    filters: str  # canonical JSON of the metric's filters
    extra: str  # canonical JSON of the charge's own filters

    @classmethod
    def of(cls, charge: ChargeUsage) -> _Measure:
        metric = charge.metric
        return cls(metric.event_type, metric.aggregation, metric.field or "",
                   json.dumps(metric.filters or {}, sort_keys=True),
                   json.dumps(dict(charge.filters or {}), sort_keys=True))


def _aggregate(measure: _Measure, n: int) -> str:
    where = [f"e.event_type = %(type_{n})s"]
    for name in ("filters", "extra"):
        if getattr(measure, name) != "{}":
            where.append(f"e.properties @> %({name}_{n})s::jsonb")
    condition = " AND ".join(where)
    field = f"%(field_{n})s"
    if measure.aggregation == "count":
        expression = "count(*)"
    elif measure.aggregation == "sum":
        expression = f"sum({sql.number('e.properties', field)})"
    elif measure.aggregation == "max":
        expression = f"max({sql.number('e.properties', field)})"
    else:
        expression = f"count(DISTINCT {sql.distinct_value('e.properties', field)})"
    return f"{expression} FILTER (WHERE {condition})"


def _scan_window(start, end, requests: list[UsageRequest], answers, indexes) -> None:
    measures: dict[_Measure, int] = {}
    for request in requests:
        for charge in request.charges:
            measures.setdefault(_Measure.of(charge), len(measures))
    params: dict[str, object] = {
        "start": sql.as_utc(start), "end": sql.as_utc(end),
        "types": sorted({m.event_type for m in measures}),
        "lo": min(r.customer_id for r in requests), "hi": max(r.customer_id for r in requests),
    }
    for measure, n in measures.items():
        params.update({f"type_{n}": measure.event_type, f"field_{n}": measure.field,
                       f"filters_{n}": measure.filters, f"extra_{n}": measure.extra})
    columns = ",\n           ".join(_aggregate(m, n) for m, n in measures.items())
    statement = f"""
    SELECT e.customer_id,
           {columns}
    FROM {Event._meta.db_table} e
    WHERE e.timestamp >= %(start)s AND e.timestamp < %(end)s
      AND e.event_type = ANY(%(types)s::text[])
      AND e.customer_id BETWEEN %(lo)s AND %(hi)s
    GROUP BY e.customer_id
    """
    rows = {row[0]: row[1:] for row in sql.fetch_rows(statement, params)}
    for i, request in zip(indexes, requests, strict=True):
        row = rows.get(request.customer_id)
        values = {}
        for charge in request.charges:
            value = row[measures[_Measure.of(charge)]] if row is not None else None
            values[charge.key] = ZERO if value is None else tidy(Decimal(value))
        answers[i] = values
