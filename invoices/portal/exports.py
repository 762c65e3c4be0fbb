"""The portal's CSV exports: usage per day and metric for a chosen range, and the raw events
behind a usage line of an invoice.

Both are streamed: ``StreamingHttpResponse`` over a generator that writes rows as the usage
app's generators (``usage/exports.py``) read them, a batch of rows per chunk, so a million
events never sit in memory (PostgreSQL hands them over through a server-side cursor).

Cells are exact: quantities and money as decimal strings without padding (the API's
numbers, not the page's rounded ones), times in ISO 8601 UTC. A text cell that a
spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``) is prefixed with
``'``; numbers are never touched.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Sequence

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from common.decimals import format_decimal
from invoices.portal.access import portal_customer
from invoices.selectors import portal_invoice_get
from invoices.selectors.line_events import line_events_source
from plans.selectors import metric_list
from usage.exports import daily_usage, metric_events

MAX_RANGE_DAYS = 366
ROWS_PER_CHUNK = 500
USAGE_HEADER = ("date", "metric", "metric_name", "value")
EVENTS_HEADER = ("timestamp", "transaction_id", "event_type", "value", "model", "seat",
                 "provider_cost_usd", "received_at", "properties")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _moment(value: dt.datetime) -> str:
    """ISO 8601 UTC with the microseconds an event carries (the API's events do too)."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _number(value) -> str:
    return "" if value is None else format_decimal(value)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """The CSV text of ``header`` and ``rows``, ``ROWS_PER_CHUNK`` rows per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[str]]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


class RangeError(ValueError):
    pass


def parse_range(start_text: str | None, end_text: str | None) -> tuple[dt.date, dt.date]:
    """``from`` and ``to`` (both days included, ``YYYY-MM-DD``) as ``[start, end)``."""
    try:
        start = dt.date.fromisoformat(start_text or "")
        last = dt.date.fromisoformat(end_text or "")
    except ValueError:
        raise RangeError("Give both days as YYYY-MM-DD.") from None
    if last < start:
        raise RangeError("The last day comes before the first.")
    if (last - start).days + 1 > MAX_RANGE_DAYS:
        raise RangeError(f"Choose at most {MAX_RANGE_DAYS} days.")
    if start.year < 1970 or last.year >= 2200:
        raise RangeError("Choose days between 1970 and 2199.")
    return start, last + dt.timedelta(days=1)


@login_required
def exports_page(request: HttpRequest) -> HttpResponse:
    """The form that chooses the range of the usage export (a GET to the CSV)."""
    customer = portal_customer(request)
    today = timezone.now().astimezone(dt.UTC).date()
    return render(request, "invoices/portal/exports.html", {
        "customer": customer,
        "start": request.GET.get("from") or today.replace(day=1).isoformat(),
        "end": request.GET.get("to") or today.isoformat(),
        "max_days": MAX_RANGE_DAYS,
    })


@login_required
def usage_csv(request: HttpRequest) -> HttpResponse:
    customer = portal_customer(request)
    try:
        start, end = parse_range(request.GET.get("from"), request.GET.get("to"))
    except RangeError as error:
        return render(request, "invoices/portal/exports.html", {
            "customer": customer, "error": str(error), "max_days": MAX_RANGE_DAYS,
            "start": request.GET.get("from", ""), "end": request.GET.get("to", ""),
        }, status=400)
    metrics = list(metric_list())
    names = {m.code: m.name for m in metrics}
    rows = (
        (row.day.isoformat(), _text(row.metric), _text(names[row.metric]), _number(row.value))
        for row in daily_usage(customer=customer, start=start, end=end, metrics=metrics)
    )
    last = end - dt.timedelta(days=1)
    return csv_response(f"usage-{customer.external_id}-{start}-to-{last}.csv", USAGE_HEADER, rows)


@login_required
def line_events_csv(request: HttpRequest, invoice_id: str, position: int) -> HttpResponse:
    customer = portal_customer(request)
    invoice = portal_invoice_get(customer=customer, invoice_id=invoice_id)
    source = None if invoice is None else line_events_source(invoice=invoice, position=position)
    if source is None:
        raise Http404("No such usage line.")
    events = metric_events(customer=customer, metric=source.metric, start=source.start,
                           end=source.end, filters=source.filters)
    rows = (
        (_moment(e.timestamp), _text(e.transaction_id), _text(e.event_type),
         _number(e.value) if not isinstance(e.value, str) else _text(e.value),
         _text(e.model), _text(e.seat), _number(e.provider_cost), _moment(e.received_at),
         json.dumps(e.properties, sort_keys=True, separators=(",", ":")))
        for e in events
    )
    name = f"events-{invoice.number or invoice.pk}-line-{position}-{source.metric.code}.csv"
    return csv_response(name, EVENTS_HEADER, rows)
