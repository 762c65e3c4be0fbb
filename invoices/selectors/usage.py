"""Usage values for many customer-periods at once, for the billing run and the preview.

Two ways to the same numbers:

- ``usage.selectors.charge_usage_many`` (rollups plus raw edges, per customer list):
  the default, and the only way on SQLite. Requests sharing a window and a price book
  go together, one statement each.
- ``usage.selectors.usage_window_values``, a *window scan*, when a window has many
  customers (a monthly billing run bills most customers on the same period): the
  window's events are read once, in a customer-id range, for every charge of every
  price book. ``tests/invoices/test_usage_scan.py`` checks both ways agree.

Both are the usage app's reads; this module only chooses between them and shares them
across a run. A scan reads the whole window whatever customer range it keeps, so an
inline run of many chunks passes a :class:`WindowScans`: the first chunk that scans a
window scans it for every customer of the run, and the other chunks read that scan's
values.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings

from plans.models import Metric
from usage.selectors import ChargeUsage, Measure, charge_usage_many, usage_window_values

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


def load_usage(
    requests: Sequence[UsageRequest], *, scans: WindowScans | None = None
) -> list[dict[str, Decimal]]:
    """Per request, charge key → value over ``[start, end)``; in request order.

    With ``scans``, a window scan already made for the run answers the requests it
    covers, and a new one covers every customer of the run.
    """
    requests = _with_metric_rows(requests)
    answers: list[dict[str, Decimal]] = [{} for _ in requests]
    windows: dict[tuple, list[int]] = defaultdict(list)
    for index, request in enumerate(requests):
        if request.charges:
            windows[(request.start, request.end)].append(index)
    for (start, end), indexes in windows.items():
        group = [requests[i] for i in indexes]
        scan = scans.find(start, end, group) if scans is not None else None
        if scan is None and len({r.customer_id for r in group}) >= scan_min_customers():
            lo = min(r.customer_id for r in group)
            hi = max(r.customer_id for r in group)
            if scans is not None:
                lo, hi = min(lo, scans.lo), max(hi, scans.hi)
            scan = _scan_window(start, end, _measures(group), lo, hi)
            if scans is not None:
                scans.keep(start, end, scan)
        if scan is not None:
            scan.answer(group, answers, indexes)
        else:
            _by_book(start, end, requests, indexes, answers)
    return answers


def _with_metric_rows(requests: Sequence[UsageRequest]) -> Sequence[UsageRequest]:
    """The requests with every charge's metric as its row, looked up once for all: price
    books name metrics by code, and the usage app measures rows (rollups are per metric
    id). Requests of one price book keep sharing one tuple of charges."""
    codes = {c.metric for r in requests for c in r.charges if isinstance(c.metric, str)}
    if not codes:
        return requests
    rows = {m.code: m for m in Metric.objects.filter(code__in=codes)}
    if missing := codes - set(rows):
        raise Metric.DoesNotExist(f"no metric {', '.join(sorted(missing))}")
    resolved: dict[int, tuple[ChargeUsage, ...]] = {}
    found = []
    for request in requests:
        charges = resolved.get(id(request.charges))
        if charges is None:
            charges = resolved[id(request.charges)] = tuple(
                replace(c, metric=rows[c.metric]) if isinstance(c.metric, str) else c
                for c in request.charges
            )
        found.append(UsageRequest(request.customer_id, request.start, request.end,
                                  request.book, charges))
    return found


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


def _measure(charge: ChargeUsage) -> Measure:
    return Measure.of(charge.metric, charge.filters)


def _measures(requests: Sequence[UsageRequest]) -> list[Measure]:
    """Every measure the requests ask for, in order of first appearance."""
    measures: dict[Measure, None] = {}
    seen: set[int] = set()
    for request in requests:
        if id(request.charges) in seen:  # requests of one price book share their tuple
            continue
        seen.add(id(request.charges))
        for charge in request.charges:
            measures.setdefault(_measure(charge))
    return list(measures)


@dataclass
class _Scan:
    """One window scan's values: per customer in ``[lo, hi]`` with events, per measure."""

    measures: frozenset[Measure]
    lo: int
    hi: int
    values: dict[int, dict[Measure, Decimal]]

    def covers(self, requests: Sequence[UsageRequest]) -> bool:
        if not all(self.lo <= r.customer_id <= self.hi for r in requests):
            return False
        books = {id(r.charges): r.charges for r in requests}.values()
        return all(_measure(c) in self.measures for charges in books for c in charges)

    def answer(self, requests: Sequence[UsageRequest], answers: list[dict[str, Decimal]],
               indexes: Sequence[int]) -> None:
        wanted: dict[int, list[tuple[str, Measure]]] = {}  # per charges tuple
        for i, request in zip(indexes, requests, strict=True):
            keys = wanted.get(id(request.charges))
            if keys is None:
                keys = wanted[id(request.charges)] = [
                    (c.key, _measure(c)) for c in request.charges]
            found = self.values.get(request.customer_id, {})
            answers[i] = {key: found.get(measure, ZERO) for key, measure in keys}


class WindowScans:
    """The window scans of one inline billing run over customers ``lo`` to ``hi``.

    What the run's first chunk reads stands for the whole run, as if the run were one
    chunk: events that come in meanwhile are the next run's, as they are for any chunk
    (drafts are rated again on every run, closed periods get late-usage lines).
    """

    def __init__(self, *, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self._scans: dict[tuple, list[_Scan]] = defaultdict(list)

    def find(self, start, end, requests: Sequence[UsageRequest]) -> _Scan | None:
        return next((s for s in self._scans[(start, end)] if s.covers(requests)), None)

    def keep(self, start, end, scan: _Scan) -> None:
        self._scans[(start, end)].append(scan)


def _scan_window(start, end, measures: list[Measure], lo: int, hi: int) -> _Scan:
    values = usage_window_values(start=start, end=end, measures=measures, customer_lo=lo,
                                 customer_hi=hi)
    return _Scan(frozenset(measures), lo, hi, values)
