"""Usage reads over the whole book of customers at once, for the ops margin views.

``usage/selectors.py`` reads one customer (or a short list) at a time; the margin report
needs every customer's provider cost for a period in one go, and cost by model over
everyone. These read the breakdown rollups grouped by customer (day rows for whole days,
hour rows around them) plus the *tail*, the events received at or after the rollup
cutoff, exactly as ``usage/breakdown.py`` does for one customer (the argument for why
that is exact is in ``usage/measure.py``). Never a query per customer.

The range must be whole hours (billing periods are UTC midnights): a partial edge hour
would have to be read raw by timestamp across every customer, which no index serves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum

from common.decimals import tidy
from usage import sql
from usage.aggregation import DIMENSIONS, Spans, call_tokens, floor_hour, member_of
from usage.measure import (
    WATERMARK_PARAMS,
    at_one_watermark,
    check_range,
    cutoff_of,
    watermark_sql,
    watermark_until,
)
from usage.models import Event, UsageBreakdown, UsageBreakdownDay

ZERO = Decimal(0)
ALL = ""  # the all-events dimension: one row per customer-hour and event type


@dataclass(frozen=True)
class BookSlice:
    """The events of one customer (or of everyone: ``customer_id`` None) that share a
    ``member`` of a dimension ("" for all events) over a range."""

    customer_id: int | None
    member: str
    events: int
    total_tokens: Decimal
    cost: Decimal
    unpriced: int


def cost_by_customer(*, start: dt.datetime, end: dt.datetime) -> dict[int, Decimal]:
    """Every customer's provider cost over ``[start, end)`` (whole hours); customers
    without events are left out (their cost is 0)."""
    rows = book_slices(start=start, end=end, dimension=ALL)
    return {row.customer_id: row.cost for row in rows}


def book_slices(
    *, start: dt.datetime, end: dt.datetime, dimension: str, event_type: str | None = None,
    by_customer: bool = True, customer_ids: Sequence[int] | None = None,
) -> list[BookSlice]:
    """Events, total tokens and provider cost over ``[start, end)`` by ``dimension``
    member ("" for all events), per customer or (``by_customer=False``) over everyone,
    optionally of one event type and some customers only. Costliest first."""
    if dimension not in (ALL, *DIMENSIONS):
        raise ValueError(f"dimension must be '' or one of {', '.join(DIMENSIONS)}")
    start, end = check_range(start, end)
    if floor_hour(start) != start or floor_hour(end) != end:
        raise ValueError("book-wide reads take whole hours")
    query = _Query(start, end, dimension, event_type, by_customer,
                   None if customer_ids is None else sorted(set(customer_ids)))
    if connection.vendor == "postgresql":
        found = at_one_watermark(query.postgres)
    else:
        found = query.python()
    result = [
        BookSlice(customer_id=customer_id, member=member, events=int(events),
                  total_tokens=tidy(tokens), cost=tidy(cost), unpriced=int(unpriced))
        for (customer_id, member), (events, tokens, cost, unpriced) in found.items()
    ]
    return sorted(result, key=lambda s: (-s.cost, -s.events, s.customer_id or 0, s.member))


@dataclass(frozen=True)
class _Query:
    start: dt.datetime
    end: dt.datetime
    dimension: str
    event_type: str | None
    by_customer: bool
    customer_ids: list[int] | None

    # --- PostgreSQL: one statement, with the watermark its snapshot saw ---------------

    def postgres(self, cutoff: dt.datetime):
        params = {**WATERMARK_PARAMS, "dim": self.dimension, "start": self.start,
                  "end": self.end, "cutoff": cutoff, "event_type": self.event_type,
                  "customers": self.customer_ids}
        narrow = e_narrow = ""
        if self.event_type is not None:
            narrow += " AND event_type = %(event_type)s"
            e_narrow += " AND e.event_type = %(event_type)s"
        if self.customer_ids is not None:
            narrow += " AND customer_id = ANY(%(customers)s::bigint[])"
            e_narrow += " AND e.customer_id = ANY(%(customers)s::bigint[])"
        customer = "customer_id" if self.by_customer else "NULL::bigint"
        spans = Spans.of(self.start, self.end)
        parts = []
        for i, (lo, hi) in enumerate(spans.hours):
            params[f"lo_{i}"], params[f"hi_{i}"] = lo, hi
            parts.append(
                f"SELECT {customer} AS customer_id, member, events, total_tokens,"
                f" provider_cost, unpriced FROM {UsageBreakdown._meta.db_table}"
                f" WHERE dimension = %(dim)s AND hour >= %(lo_{i})s AND hour < %(hi_{i})s"
                f"{narrow}")
        if spans.days is not None:
            params["days_lo"], params["days_hi"] = spans.days
            parts.append(
                f"SELECT {customer} AS customer_id, member, events, total_tokens,"
                f" provider_cost, unpriced FROM {UsageBreakdownDay._meta.db_table}"
                f" WHERE dimension = %(dim)s AND day >= %(days_lo)s AND day < %(days_hi)s"
                f"{narrow}")
        member = "''" if self.dimension == ALL else sql.member("e", self.dimension)
        has_member = "" if self.dimension == ALL else f" AND {member} <> ''"
        *_, tokens = sql.call_tokens("v")
        e_customer = "e.customer_id" if self.by_customer else "NULL::bigint"
        # The tail: received at or after the cutoff (the BRIN index on received_at; it
        # holds the last few minutes' events, or a backfill not rolled up yet).
        parts.append(f"""
            SELECT v.customer_id, v.member, 1, {tokens}, v.provider_cost, v.unpriced::int
            FROM (
                SELECT {e_customer} AS customer_id, {member} AS member, e.provider_cost,
                       e.unpriced, {sql.token_values("e.properties")}
                FROM {Event._meta.db_table} e
                WHERE e.received_at >= %(cutoff)s AND e.timestamp >= %(start)s
                  AND e.timestamp < %(end)s{e_narrow}{has_member}
                OFFSET 0
            ) v""")
        union = "\n UNION ALL\n".join(parts)
        statement = f"""
        WITH parts (customer_id, member, events, total_tokens, provider_cost, unpriced) AS (
            {union}
        ),
        summed AS (
            SELECT customer_id, member, sum(events), sum(total_tokens), sum(provider_cost),
                   sum(unpriced)
            FROM parts GROUP BY customer_id, member
        )
        SELECT w.until, s.* FROM {watermark_sql()} AS w(until) LEFT JOIN summed s ON true
        """
        rows = sql.fetch_rows(statement, params, work_mem=sql.READ_WORK_MEM)
        found = {}
        for _, customer_id, member, events, tokens, cost, unpriced in rows:
            if member is None:
                continue  # the watermark's row when nothing matched
            found[(customer_id, member)] = (events, tokens, cost, unpriced)
        return rows[0][0], found

    # --- SQLite (and the reference): the same parts, in one transaction ---------------

    def python(self):
        found: dict[tuple, list] = {}

        def add(key, events, tokens, cost, unpriced):
            totals = found.setdefault(key, [0, ZERO, ZERO, 0])
            totals[0] += int(events)
            totals[1] += Decimal(tokens or 0)
            totals[2] += Decimal(cost or 0)
            totals[3] += int(unpriced or 0)

        narrow = {}
        if self.event_type is not None:
            narrow["event_type"] = self.event_type
        if self.customer_ids is not None:
            narrow["customer_id__in"] = self.customer_ids
        group = ("customer_id", "member") if self.by_customer else ("member",)
        with transaction.atomic():
            cutoff = cutoff_of(watermark_until())
            spans = Spans.of(self.start, self.end)
            sources = [UsageBreakdown.objects.filter(hour__gte=lo, hour__lt=hi)
                       for lo, hi in spans.hours]
            if spans.days is not None:
                sources.append(UsageBreakdownDay.objects.filter(
                    day__gte=spans.days[0], day__lt=spans.days[1]))
            for rows in sources:
                for row in (rows.filter(dimension=self.dimension, **narrow).order_by()
                            .values(*group).annotate(
                                e=Sum("events"), t=Sum("total_tokens"),
                                c=Sum("provider_cost"), u=Sum("unpriced"))):
                    add((row.get("customer_id"), row["member"]),
                        row["e"], row["t"], row["c"], row["u"])
            tail = Event.objects.filter(received_at__gte=cutoff, timestamp__gte=self.start,
                                        timestamp__lt=self.end, **narrow)
            for event in tail.values("customer_id", "model", "seat", "properties",
                                     "provider_cost", "unpriced"):
                member = "" if self.dimension == ALL else member_of(event, self.dimension)
                if self.dimension != ALL and not member:
                    continue
                customer_id = event["customer_id"] if self.by_customer else None
                add((customer_id, member), 1, call_tokens(event["properties"])[2],
                    event["provider_cost"], event["unpriced"])
        return {key: tuple(value) for key, value in found.items()}
