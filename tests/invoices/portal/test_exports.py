"""The CSV exports stream (a generator, never a list) and are exact: daily usage per metric
for a chosen range, and the events behind a usage line of an invoice."""

import csv
import datetime as dt
import inspect
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse

from invoices.portal import exports
from tests.factories import MetricFactory
from tests.invoices.billing_fixtures import add_events, at
from usage.models import Event
from usage.rollups import rollup_usage

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    # Written as it is read: the body is a generator, not a list of rows built first.
    assert inspect.isgenerator(response._iterator)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_usage_export_streams_one_row_per_day_and_metric(acme_viewer, acme_invoice):
    customer = acme_invoice.customer
    add_events(customer, count=7, when=at(2026, 10, 16, 23, 59))
    response = acme_viewer.get("/exports/usage.csv?from=2026-10-14&to=2026-10-16")

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _rows(response)
    assert [(r["date"], r["metric"], r["value"]) for r in rows] == [
        ("2026-10-14", "tasks", "0"), ("2026-10-15", "tasks", "5200"),
        ("2026-10-16", "tasks", "7"),
    ]
    assert rows[0]["metric_name"] == "Tasks completed"


def test_usage_export_reads_rollups_and_the_tail_alike(acme_viewer, acme_invoice):
    """Rolled up or not, a day's value is its events' (the rollup job ran in between)."""
    before = _rows(acme_viewer.get("/exports/usage.csv?from=2026-10-15&to=2026-10-15"))
    assert rollup_usage(now=at(2026, 11, 20)) > 0
    after = _rows(acme_viewer.get("/exports/usage.csv?from=2026-10-15&to=2026-10-15"))
    assert before == after and before[0]["value"] == "5200"


@pytest.mark.parametrize(("query", "message"), [
    ("from=2026-10-14", "YYYY-MM-DD"),
    ("from=2026-10-14&to=2026-10-01", "comes before"),
    ("from=2025-01-01&to=2026-10-01", "at most 366 days"),
    ("from=banana&to=2026-10-01", "YYYY-MM-DD"),
])
def test_a_bad_range_is_a_400_page_that_says_why(acme_viewer, query, message):
    response = acme_viewer.get(f"/exports/usage.csv?{query}")
    assert response.status_code == 400 and message in response.content.decode()


def test_the_events_behind_a_usage_line_add_up_to_the_line(acme_viewer, acme_invoice):
    usage = acme_invoice.lines.get(kind="usage")
    # Outside the period, or of another type: not the line's events.
    add_events(acme_invoice.customer, count=3, when=at(2026, 11, 1))
    add_events(acme_invoice.customer, count=2, when=at(2026, 10, 5), event_type="other")

    response = acme_viewer.get(f"/invoices/{acme_invoice.pk}/lines/{usage.position}/events.csv")
    rows = _rows(response)

    assert len(rows) == 5200 == usage.value
    assert sum(Decimal(r["value"]) for r in rows) == usage.value
    assert {r["event_type"] for r in rows} == {"task.completed"}
    assert rows[0]["timestamp"] == "2026-10-15T12:00:00Z"
    assert set(rows[0]) == set(exports.EVENTS_HEADER)


def test_events_export_applies_the_metric_and_charge_filters(acme_viewer, acme_invoice):
    metric = MetricFactory(code="rt_tokens", name="Realtime tokens", event_type="ai.call",
                           aggregation="sum", field="total_tokens",
                           filters={"latency_tier": "realtime"})
    from usage.exports import metric_events
    add_events(acme_invoice.customer, count=2, when=at(2026, 10, 3), event_type="ai.call",
               properties={"latency_tier": "realtime", "total_tokens": 100, "model": "a"})
    add_events(acme_invoice.customer, count=1, when=at(2026, 10, 3), event_type="ai.call",
               properties={"latency_tier": "batch", "total_tokens": 900, "model": "a"})
    add_events(acme_invoice.customer, count=1, when=at(2026, 10, 3), event_type="ai.call",
               properties={"latency_tier": "realtime", "total_tokens": 5, "model": "b"})

    rows = list(metric_events(customer=acme_invoice.customer, metric=metric,
                              start=at(2026, 10, 1), end=at(2026, 11, 1)))
    narrowed = list(metric_events(customer=acme_invoice.customer, metric=metric,
                                  start=at(2026, 10, 1), end=at(2026, 11, 1),
                                  filters={"model": "a"}))

    assert sorted(r.value for r in rows) == [5, 100, 100]
    assert [r.value for r in narrowed] == [100, 100]


def test_the_events_reader_is_a_generator_over_an_iterator(acme_invoice, monkeypatch):
    """It never builds the list: the queryset is consumed with iterator(chunk_size)."""
    from django.db.models.query import QuerySet

    from plans.models import Metric
    from usage.exports import metric_events
    calls = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        calls.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    events = metric_events(customer=acme_invoice.customer, metric=Metric.objects.get(code="tasks"),
                           start=at(2026, 10, 1), end=at(2026, 11, 1), chunk_size=100)
    assert inspect.isgenerator(events)
    first = next(events)
    assert calls == [100] and first.event_type == "task.completed"
    assert sum(1 for _ in events) == 5199


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text(acme_viewer, acme_invoice):
    Event.objects.filter(customer=acme_invoice.customer).update(seat="=HYPERLINK(1)")
    usage = acme_invoice.lines.get(kind="usage")
    rows = _rows(acme_viewer.get(f"/invoices/{acme_invoice.pk}/lines/{usage.position}/events.csv"))
    assert rows[0]["seat"] == "'=HYPERLINK(1)"


def test_lines_without_events_and_unknown_positions_are_404(acme_viewer, acme_invoice):
    seat = acme_invoice.lines.get(kind="seat")
    assert acme_viewer.get(
        f"/invoices/{acme_invoice.pk}/lines/{seat.position}/events.csv").status_code == 404
    assert acme_viewer.get(f"/invoices/{acme_invoice.pk}/lines/99/events.csv").status_code == 404


def test_the_exports_page_offers_this_month_by_default(acme_viewer):
    import time_machine
    with time_machine.travel(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), tick=False):
        html = acme_viewer.get("/exports/").content.decode()
    assert 'value="2026-11-01"' in html and 'value="2026-11-20"' in html


@pytest.mark.postgres
def test_on_postgresql_the_events_export_reads_through_a_server_side_cursor(
        acme_viewer, acme_invoice, monkeypatch):
    """A named cursor hands rows over chunk by chunk: the response is read as it streams."""
    from django.db import connection

    named = []
    original = connection.chunked_cursor

    def spy():
        cursor = original()
        named.append(getattr(cursor.cursor, "name", None))
        return cursor

    monkeypatch.setattr(connection, "chunked_cursor", spy)
    usage = acme_invoice.lines.get(kind="usage")
    response = acme_viewer.get(f"/invoices/{acme_invoice.pk}/lines/{usage.position}/events.csv")
    assert named == []  # nothing read before the body is
    rows = _rows(response)

    assert len(rows) == 5200
    assert len(named) == 1 and named[0]  # one named (server-side) cursor


def test_the_days_of_a_month_add_up_to_the_months_usage(acme_viewer, acme_invoice):
    from usage.selectors import usage_totals
    add_events(acme_invoice.customer, count=4, when=at(2026, 10, 31, 23, 59))
    add_events(acme_invoice.customer, count=9, when=at(2026, 11, 1))  # the next month
    rows = _rows(acme_viewer.get("/exports/usage.csv?from=2026-10-01&to=2026-10-31"))
    total = usage_totals(customer=acme_invoice.customer, start=at(2026, 10, 1),
                         end=at(2026, 11, 1))["tasks"]

    assert len(rows) == 31 and rows[-1]["date"] == "2026-10-31"
    assert sum(Decimal(r["value"]) for r in rows) == total == 5204
