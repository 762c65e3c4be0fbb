"""The reads of one customer's usage do not scan the customer's events: EXPLAIN (ANALYZE,
BUFFERS) of the statements they run, on PostgreSQL, with rollups caught up."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CustomerFactory, MetricFactory
from usage.models import Event
from usage.rollups import rollup_usage
from usage.selectors import ChargeUsage, charge_usage, usage_breakdown, usage_totals

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
DAYS = 20
EVENTS = 24_000  # 50 an hour
TAIL = 40  # received after the last rollup run
HOUR = dt.timedelta(hours=1)
RUN = START + dt.timedelta(days=DAYS, hours=1)
SCAN_NODES = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def make_events(customer, count, *, received=None, prefix="e", seed=1):
    rng = random.Random(seed)
    span = DAYS * 86400
    rows = []
    for n in range(count):
        at = START + dt.timedelta(seconds=rng.randrange(span))
        if n % 3:
            kind, model = "ai.call", rng.choice(["gpt", "claude"])
            props = {"total_tokens": rng.randint(10, 900), "latency_tier": "realtime",
                     "seat": f"u{n % 7}@x.test"}
        else:
            kind, model, props = "task.completed", "", {"seat": f"u{n % 7}@x.test"}
        rows.append(Event(customer=customer, transaction_id=f"{prefix}{n}", event_type=kind,
                          timestamp=at, properties=props, model=model,
                          seat=props["seat"], provider_cost=Decimal("0.001"),
                          received_at=received or at + dt.timedelta(seconds=2)))
    Event.objects.bulk_create(rows, batch_size=5000)


@pytest.fixture
def loaded():
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="total_tokens")
    MetricFactory(code="calls", event_type="ai.call", aggregation="count")
    MetricFactory(code="seats", event_type="ai.call", aggregation="unique_count", field="seat")
    MetricFactory(code="tasks", event_type="task.completed", aggregation="count")
    acme, other = CustomerFactory(external_id="acme"), CustomerFactory(external_id="other")
    make_events(acme, EVENTS)
    make_events(other, EVENTS // 4, prefix="o", seed=2)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Event._meta.db_table}")
    rollup_usage(now=RUN)
    make_events(acme, TAIL, received=RUN + dt.timedelta(minutes=1), prefix="late", seed=3)
    return acme


def event_scans(read) -> list[dict]:
    """Every plan node that reads usage_event, over the statements ``read()`` runs."""
    with CaptureQueriesContext(connection) as captured:
        read()
    statements = [q["sql"] for q in captured.captured_queries
                  if Event._meta.db_table in q["sql"] and "FOR SHARE" not in q["sql"]]
    assert statements, "the read ran no statement on usage_event"
    scans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # as usage.sql.fetch_rows runs them
        for statement in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement)
            (plan,) = cursor.fetchone()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            scans.extend(_nodes(plan[0]["Plan"]))
    indexes = {index.name for index in Event._meta.indexes} | {"usage_event_pkey"}
    return [n for n in scans
            if n.get("Relation Name") == Event._meta.db_table or n.get("Index Name") in indexes]


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def rows_read(scans) -> int:
    """Rows the scans of usage_event fetched, kept or filtered out."""
    return sum((n["Actual Rows"] + n.get("Rows Removed by Filter", 0)) * n["Actual Loops"]
               for n in scans if n["Node Type"] in SCAN_NODES)


def blocks_read(scans) -> int:
    return sum(n["Shared Hit Blocks"] + n["Shared Read Blocks"] for n in scans)


def table_blocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int",
                       [Event._meta.db_table])
        return cursor.fetchone()[0]


def test_totals_read_rollups_and_only_the_tail_through_the_received_at_index(loaded):
    scans = event_scans(lambda: usage_totals(customer=loaded, start=START,
                                             end=START + dt.timedelta(days=DAYS)))

    assert {n["Node Type"] for n in scans} <= {"Index Scan", "Bitmap Heap Scan",
                                               "Bitmap Index Scan"}
    assert "event_cust_received" in {n.get("Index Name") for n in scans}
    assert rows_read(scans) == TAIL
    assert blocks_read(scans) < min(200, table_blocks() // 10)


def test_partial_edge_hours_add_only_their_own_events(loaded):
    start, end = START + 90 * dt.timedelta(minutes=1), START + dt.timedelta(days=DAYS - 1, minutes=30)
    scans = event_scans(lambda: usage_totals(customer=loaded, start=start, end=end))

    # Two partial hours at about 50 events an hour (a third are tasks), plus the tail.
    assert TAIL <= rows_read(scans) < TAIL + 400
    assert blocks_read(scans) < table_blocks() // 2


def test_charge_values_for_rating_read_the_same_way(loaded):
    charges = [ChargeUsage(key="tokens", metric="tokens"), ChargeUsage(key="tasks", metric="tasks")]
    scans = event_scans(lambda: charge_usage(customer=loaded, start=START,
                                             end=START + dt.timedelta(days=DAYS), charges=charges))

    assert "event_cust_received" in {n.get("Index Name") for n in scans}
    assert rows_read(scans) <= TAIL


def test_breakdown_reads_rollups_and_only_the_tail(loaded):
    scans = event_scans(lambda: usage_breakdown(customer=loaded, start=START,
                                                end=START + dt.timedelta(days=DAYS)))

    assert "Seq Scan" not in {n["Node Type"] for n in scans}
    assert "event_cust_received" in {n.get("Index Name") for n in scans}
    # The tail, and one index probe per event type for the loose scan of types.
    assert rows_read(scans) <= TAIL + 3
    assert blocks_read(scans) < min(200, table_blocks() // 10)


def test_the_reads_stay_exact_with_a_tail(loaded):
    events = Event.objects.filter(customer=loaded, event_type="ai.call")
    assert usage_totals(customer=loaded, start=START, end=START + dt.timedelta(days=DAYS))[
        "calls"] == events.count()
    assert usage_breakdown(customer=loaded, start=START,
                           end=START + dt.timedelta(days=DAYS)).total == Decimal(
        "0.001") * Event.objects.filter(customer=loaded).count()
