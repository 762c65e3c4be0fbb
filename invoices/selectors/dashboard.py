"""The customer dashboard's read: the open period (each charge against its allowance, the
bill so far, where both are heading), the daily series, earlier periods, the usage mix,
and the contract's terms with any scheduled migration's changes, as one frozen value.

It reads only through the fast paths: ``upcoming_invoice`` (rollups plus the tail, rated
by the engine), ``usage.series`` (the day tables and one breakdown read), the customer's
invoices for earlier periods (their usage snapshots, no usage scan) and price books for
migrations. The number of queries is fixed: it does not grow with seats, days, events
or invoices (``tests/invoices/portal/test_dashboard.py`` counts them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Customer
from accounts.selectors import seat_list
from common.side_by_side import side_by_side
from invoices.documents import UpcomingInvoiceDoc, upcoming_document
from invoices.models import Invoice
from invoices.rating import ChargeTerms, Line, LineKind, Terms
from invoices.rating.books import PriceBook
from invoices.rating.compare import TermChange, terms_changes
from invoices.rating.projection import (
    Crossing,
    Method,
    Outlook,
    Pace,
    allowance_outlook,
    day_passed,
    method_of,
    percent,
    project_bill,
)
from invoices.selectors.preview import UpcomingInvoice, contract_in_force, upcoming_invoice
from invoices.selectors.terms import load_price_books
from plans.models import Contract, Metric
from plans.periods import Period
from plans.selectors import (
    contract_pending_migrations,
    contract_period_containing,
    contract_version_at,
)
from usage.series import MIX_DIMENSIONS, UsageMix, daily_values, usage_mix

PAST_PERIODS = 3  # earlier periods shown beside the open one
SHOWN_INVOICES = (Invoice.Status.FINALIZED, Invoice.Status.PAID)  # drafts are ops' own


@dataclass(frozen=True)
class ChargeStatus:
    """One usage charge of the open period: so far, against its allowance, and ahead."""

    key: str
    name: str
    metric: str  # the metric's code
    aggregation: str
    used: Decimal
    allowance: Decimal  # included units this period (0: every unit is billed)
    billable: Decimal
    amount: Decimal  # billed so far
    percent: Decimal | None  # of the allowance; None without one
    projected: Decimal
    projected_amount: Decimal
    method: Method
    outlook: Outlook
    passed_on: dt.date | None  # PASSED: the day the running total went over, when known
    terms: ChargeTerms

    @property
    def bar(self) -> Decimal:
        """The progress bar's fill, 0 to 100."""
        return min(self.percent or Decimal(0), Decimal(100))

    @property
    def over(self) -> bool:
        return self.outlook.crossing == Crossing.PASSED


@dataclass(frozen=True)
class MetricSeries:
    code: str
    name: str
    aggregation: str
    days: tuple[tuple[dt.date, Decimal], ...]  # the period's days so far
    period_days: tuple[dt.date, ...]  # every day of the period, for the chart's axis
    allowance: Decimal | None  # when one charge prices this metric as it is
    projected: Decimal | None  # at the period's end, for metrics that add up


@dataclass(frozen=True)
class PastPeriod:
    invoice_id: str
    number: str
    period: Period
    status: str
    total: Decimal
    currency: str
    usage: Mapping[str, Decimal]  # per charge key, as billed


@dataclass(frozen=True)
class Migration:
    effective_date: dt.date
    plan: str
    version: int
    changes: tuple[TermChange, ...]


@dataclass(frozen=True)
class ContractSummary:
    plan: str
    version: int
    start_date: dt.date
    end_date: dt.date | None  # the term's last day; None: no end
    auto_renew: bool
    renewal: str  # Contract.Renewal
    renews_on: dt.date | None
    interval: str
    terms: Terms  # after the contract's overrides
    billed_seats: Decimal
    seats_used: Decimal
    migrations: tuple[Migration, ...]


@dataclass(frozen=True)
class SeatRow:
    member: str
    name: str  # the seat's name; "" when the member is not one of the customer's seats
    person: bool  # one of the customer's seats (a person), else an agent or service
    calls: int
    tokens: Decimal
    events: int
    share: Decimal | None  # of all tokens, percent


@dataclass(frozen=True)
class Dashboard:
    customer: Customer
    at: dt.datetime
    contract: ContractSummary | None  # None: no contract in force today
    period: Period | None
    pace: Pace | None
    currency: str
    lines: tuple[Line, ...]  # the bill so far
    document: UpcomingInvoiceDoc | None  # the same, as the API and invoice pages print it
    bill_so_far: Decimal
    projected_bill: Decimal | None
    projected_lines: tuple[Line, ...]
    charges: tuple[ChargeStatus, ...]
    series: tuple[MetricSeries, ...]
    past: tuple[PastPeriod, ...]
    mix: UsageMix | None
    seats: tuple[SeatRow, ...]


def customer_dashboard(*, customer: Customer, at: dt.datetime) -> Dashboard:
    upcoming, days, mix, read_metrics = _open_period_reads(customer, at)
    past = _past_periods(customer, before=upcoming.period.start_at if upcoming else at)
    if upcoming is None:
        return Dashboard(customer=customer, at=at, contract=None, period=None, pace=None,
                         currency=customer.currency, lines=(), document=None,
                         bill_so_far=Decimal(0),
                         projected_bill=None, projected_lines=(), charges=(), series=(),
                         past=past, mix=None, seats=())
    period, rated = upcoming.period, upcoming.rated
    pace = Pace.of(period, at)
    metrics = _metrics(upcoming.book, read_metrics)

    usage_lines = [line for line in rated.rated.lines if line.kind == LineKind.USAGE]
    charge_terms = {c.key: c for c in rated.terms.charges}
    methods = {
        line.charge_key: method_of(metrics[line.metric].aggregation)
        if line.metric in metrics else Method.HELD
        for line in usage_lines
    }
    carried = tuple(rated.lines[len(rated.rated.lines):])  # late usage of earlier periods
    projection = project_bill(
        terms=rated.terms, seats=upcoming.seats, period=period,
        usage={line.charge_key: line.value for line in usage_lines}, methods=methods,
        pace=pace, carried=carried)
    projected_lines = {line.charge_key: line for line in projection.rated.lines
                       if line.kind == LineKind.USAGE}
    charges = tuple(
        _charge(line, charge_terms[line.charge_key], metrics.get(line.metric), methods,
                projection.usage, projected_lines, pace, days)
        for line in usage_lines
    )
    return Dashboard(
        customer=customer, at=at, contract=_contract(upcoming, at.date()), period=period,
        pace=pace, currency=rated.currency, lines=tuple(rated.lines),
        document=upcoming_document(upcoming, at=at), bill_so_far=rated.total,
        projected_bill=projection.total,
        projected_lines=(*projection.rated.lines, *projection.carried), charges=charges,
        series=_series(metrics, days, charges, period), past=past, mix=mix,
        seats=_seats(customer, mix),
    )


def _open_period_reads(customer: Customer, at: dt.datetime):
    """The upcoming invoice, the daily series and the usage mix of the period containing
    ``at``, and the metrics read for them. Each of the three passes over the events the
    rollups do not hold yet (hundreds of milliseconds right after a backfill), so once the
    contract and period are known (a few index reads) they run side by side."""
    day = at.astimezone(dt.UTC).date()
    contract = contract_in_force(customer=customer, day=day)
    if contract is None:
        return None, {}, None, {}
    period = contract_period_containing(contract=contract, day=day)
    end = min(max(at, period.start_at + dt.timedelta(microseconds=1)), period.end_at)
    version = contract_version_at(contract=contract, day=period.start)
    # The version's metrics: the book the preview rates the period on has its charges.
    metrics = {m.code: m for m in Metric.objects.filter(charges__plan_version=version)
               .distinct().order_by("code")}
    upcoming, days, mix = side_by_side(
        lambda: upcoming_invoice(customer=customer, at=at, contract=contract),
        lambda: daily_values(customer=customer, start=period.start_at, end=end,
                             metrics=list(metrics.values())),
        lambda: usage_mix(customer=customer, start=period.start_at, end=end),
    )
    return upcoming, days, mix, metrics


def _metrics(book: PriceBook, read: Mapping[str, Metric]) -> dict[str, Metric]:
    """The metrics the period's charges price, by code, in the charges' order."""
    codes = list(dict.fromkeys(c.metric for c in book.terms.charges))
    found = dict(read)
    if missing := [code for code in codes if code not in found]:
        found.update({m.code: m for m in Metric.objects.filter(code__in=missing)})
    return {code: found[code] for code in codes if code in found}


def _charge(line: Line, terms: ChargeTerms, metric: Metric | None, methods, projected,
            projected_lines, pace: Pace, days) -> ChargeStatus:
    method = methods[line.charge_key]
    allowance = line.included or Decimal(0)
    outlook = allowance_outlook(line.value, allowance, pace=pace, method=method)
    passed_on = None
    # The day it went over is known when the charge measures its metric as it is (a
    # charge with its own filters measures less than the metric's daily series).
    if (outlook.crossing == Crossing.PASSED and method == Method.LINEAR
            and line.charge_key == line.metric and line.metric in days):
        passed_on = day_passed(days[line.metric], allowance)
    future = projected_lines.get(line.charge_key)
    return ChargeStatus(
        key=line.charge_key, name=terms.description or line.metric, metric=line.metric,
        aggregation=metric.aggregation if metric else "", used=line.value,
        allowance=allowance, billable=line.billable or Decimal(0), amount=line.amount,
        percent=percent(line.value, allowance), projected=projected[line.charge_key],
        projected_amount=future.amount if future else line.amount, method=method,
        outlook=outlook, passed_on=passed_on, terms=terms,
    )


def _series(metrics: Mapping[str, Metric], days, charges, period: Period) -> tuple:
    axis = tuple(period.start + dt.timedelta(days=n) for n in range(period.days))
    plain = {c.metric: c for c in charges if c.key == c.metric}
    found = []
    for code, metric in metrics.items():
        charge = plain.get(code)
        adds_up = method_of(metric.aggregation) == Method.LINEAR
        found.append(MetricSeries(
            code=code, name=metric.name or code, aggregation=metric.aggregation,
            days=days.get(code, ()), period_days=axis,
            allowance=charge.allowance if charge and charge.allowance > 0 else None,
            projected=charge.projected if charge and adds_up else None,
        ))
    return tuple(found)


def _past_periods(customer: Customer, *, before: dt.datetime) -> tuple[PastPeriod, ...]:
    rows = (
        Invoice.objects.filter(customer=customer, status__in=SHOWN_INVOICES,
                               period_start__lt=before)
        .order_by("-period_start", "-pk")
        .values_list("pk", "number", "period_start", "period_end", "status", "total",
                     "currency", "usage_snapshot")[:PAST_PERIODS]
    )
    return tuple(
        PastPeriod(invoice_id=str(pk), number=number,
                   period=Period(start.astimezone(dt.UTC).date(), end.astimezone(dt.UTC).date()),
                   status=status, total=total, currency=currency,
                   usage={key: Decimal(value) for key, value in (snapshot or {}).items()})
        for pk, number, start, end, status, total, currency, snapshot in rows
    )


def _contract(upcoming: UpcomingInvoice, today: dt.date) -> ContractSummary:
    contract: Contract = upcoming.contract
    rated = upcoming.rated
    pending = contract_pending_migrations(contract=contract, today=today)
    books = load_price_books({m.plan_version_id for m in pending}) if pending else {}
    overrides = rated.overrides
    migrations = tuple(
        Migration(effective_date=m.effective_date, plan=m.plan_version.plan.name,
                  version=m.plan_version.version,
                  changes=terms_changes(rated.terms,
                                        books[m.plan_version_id].with_overrides(overrides)))
        for m in pending
    )
    renews_on = None
    if contract.end_date is not None and contract.auto_renew:
        renews_on = contract.end_date + dt.timedelta(days=1)
    version = contract_version_at(contract=contract, day=upcoming.period.start)
    return ContractSummary(
        plan=version.plan.name, version=version.version,
        start_date=contract.start_date, end_date=contract.end_date,
        auto_renew=contract.auto_renew, renewal=contract.renewal, renews_on=renews_on,
        interval=upcoming.book.interval, terms=rated.terms,
        billed_seats=rated.rated.billed_seats, seats_used=rated.rated.seat_equivalents,
        migrations=migrations,
    )


def _seats(customer: Customer, mix: UsageMix) -> tuple[SeatRow, ...]:
    """The seat breakdown, each member told apart as a person (one of the customer's
    seats) or an agent / service identity (a seat value no seat has)."""
    rows = mix.by.get("seat", ())
    if not rows:
        return ()
    # The latest seat of an email names it (ordered so it comes last).
    names = dict(seat_list(customer=customer).order_by("email", "active_from")
                 .values_list("email", "name"))
    return tuple(
        SeatRow(member=row.member, name=names.get(row.member) or "", person=row.member in names,
                calls=row.calls, tokens=row.tokens, events=row.events,
                share=percent(row.tokens, mix.tokens) if mix.tokens else None)
        for row in rows
    )


__all__ = ["MIX_DIMENSIONS", "Dashboard", "customer_dashboard"]
