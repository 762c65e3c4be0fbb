"""Reads behind the ops views, over the whole book at once: a handful of GROUP BY queries
(invoices by customer, usage rollups by customer) whatever the number of customers,
never a query per customer. The arithmetic is ``invoices/ops/margins.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.apps import apps
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from accounts.models import Customer, Seat
from invoices.models import Invoice, InvoiceLine
from invoices.ops import kept, margins
from invoices.ops.margins import AllowanceShare, CustomerMargin, MarginTotals, Month
from invoices.rating.drafts import rate_work

# A batched upcoming invoice: the run's own load step, the same the preview uses.
from invoices.selectors.billing_load import (
    BILLABLE_CONTRACTS,
    load_contracts,
    load_open_periods,
)
from invoices.selectors.preview import upcoming_invoice
from plans.models import Contract
from plans.selectors import contracts_ending_between
from usage.ingest import AI_CALL
from usage.ops_reads import book_slices, cost_by_customer
from usage.pricing import unpriced_model_counts
from usage.selectors import rollup_watermark, usage_slices

ZERO = Decimal(0)
RENEWAL_DAYS = 30
REFRESH_TASK = "invoices.tasks.refresh_margin_book"  # invoices.ops.tasks
USAGE = InvoiceLine.Kind.USAGE
SEAT = InvoiceLine.Kind.SEAT


def today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


# --- Revenue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Revenue:
    by_customer: dict[int, Decimal]
    over_allowance: dict[int, bool]  # hybrid-plan customers only: True when over
    estimated: bool


def _overlapping(month: Month):
    return Invoice.objects.filter(
        period_start__lt=month.end, period_end__gt=month.start,
    ).exclude(status=Invoice.Status.VOID)


def _recognized(invoices, month: Month) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for customer_id, total, start, end in invoices.order_by().values_list(
            "customer_id", "total", "period_start", "period_end"):
        totals[customer_id] += margins.recognized(total, start, end, month)
    return dict(totals)


def invoiced_revenue(month: Month) -> Revenue:
    """What the non-void invoices overlapping ``month`` earn in it (drafts count: they
    are what will be invoiced; a period is earned evenly over its days, see
    ``margins.recognized``), per customer; and which hybrid customers went over."""
    invoices = _overlapping(month)
    # Hybrid: a seat line and a usage line with an allowance on the same invoice.
    seats = InvoiceLine.objects.filter(invoice=OuterRef("invoice"), kind=SEAT)
    lines = (
        InvoiceLine.objects.filter(invoice__in=invoices, kind=USAGE, included__gt=0)
        .filter(Exists(seats)).order_by()
        .values("invoice__customer_id")
        .annotate(over=Count("pk", filter=Q(billable__gt=0)))
        .values_list("invoice__customer_id", "over")
    )
    return Revenue(_recognized(invoices, month),
                   {customer: over > 0 for customer, over in lines}, estimated=False)


def estimated_revenue(*, day: dt.date) -> Revenue:
    """Every customer's upcoming invoice for the period containing ``day`` (the usage so
    far, rated by the billing engine, saved nowhere), loaded and rated in one batch the
    way ``invoices.selectors.preview.upcoming_invoice`` does it for one customer."""
    in_force = load_contracts(where=(
        Q(status__in=BILLABLE_CONTRACTS, start_date__lte=day)
        & (Q(end_date__isnull=True) | Q(end_date__gte=day))))
    chosen = {}
    for contract in in_force:  # by customer and start: the latest start wins, as preview's
        chosen[contract.customer_id] = contract
    loaded = load_open_periods(contracts=list(chosen.values()), day=day)
    totals: dict[int, Decimal] = {}
    over: dict[int, bool] = {}
    for rating in rate_work(loaded.work):
        if rating.error is not None or not rating.invoices:
            continue  # left out of the report, as the preview refuses it
        rated = rating.invoices[-1]
        period = rated.target.period
        totals[rating.customer_id] = margins.recognized(
            rated.total, period.start_at, period.end_at, Month.of(day))
        flag = margins.over_allowance((line.kind, line.included, line.billable)
                                      for line in rated.lines)
        if flag is not None:
            over[rating.customer_id] = flag
    return Revenue(totals, over, estimated=True)


def revenue_for(month: Month, *, day: dt.date) -> Revenue:
    return estimated_revenue(day=day) if month.is_open(day) else invoiced_revenue(month)


# --- The margin report --------------------------------------------------------------


@dataclass(frozen=True)
class MarginBook:
    """A month's report as computed (rows unsorted), what ``invoices.ops.kept`` keeps."""

    month: Month
    rows: list[CustomerMargin]
    totals: MarginTotals
    estimated: bool
    allowance: AllowanceShare  # hybrid customers over their allowance this period
    allowance_previous: AllowanceShare


@dataclass(frozen=True)
class MarginReport:
    month: Month
    rows: list[CustomerMargin]  # sorted, money-losing first
    totals: MarginTotals
    estimated: bool
    computed_at: dt.datetime  # when its numbers were read (kept up to kept.FRESH)
    allowance: AllowanceShare
    allowance_previous: AllowanceShare


def _customers(ids: Iterable[int]) -> dict[int, margins.Customer]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    query = Customer.objects.order_by()
    # Most of the book: one range scan beats an IN list of thousands of ids.
    query = (query.filter(pk__in=ids) if len(ids) <= 500
             else query.filter(pk__gte=ids[0], pk__lte=ids[-1]))
    wanted = set(ids)
    return {
        pk: margins.Customer(pk, external_id, name, currency)
        for pk, external_id, name, currency in query.values_list(
            "pk", "external_id", "name", "currency")
        if pk in wanted
    }


def compute_book(*, month: Month, day: dt.date) -> MarginBook:
    revenue = revenue_for(month, day=day)
    previous = revenue_for(month.previous(), day=day)
    cost = cost_by_customer(start=month.start, end=month.end)
    customers = _customers(set(revenue.by_customer) | set(cost))
    rows = margins.margin_rows(customers=customers, revenue=revenue.by_customer, cost=cost,
                               estimated=revenue.estimated)
    return MarginBook(
        month=month, rows=rows, totals=margins.totals(rows), estimated=revenue.estimated,
        allowance=margins.allowance_share(revenue.over_allowance.values()),
        allowance_previous=margins.allowance_share(previous.over_allowance.values()),
    )


def book_version(day: dt.date) -> str:
    """A digest of what a report reads; it changes when the rollup job has run or a
    contract, seat or invoice changed."""
    parts = [day.isoformat(), rollup_watermark()]
    for model in (Contract, Seat, Invoice):
        found = model.objects.aggregate(n=Count("pk"), at=Max("updated_at"))
        parts += [found["n"], found["at"]]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _book_key(month: Month, day: dt.date) -> str:
    return f"ops:margins:{month}:{day.isoformat()}"


def margin_book(*, month: Month, day: dt.date, force: bool = False) -> kept.Kept:
    def refresh() -> None:
        # By name: invoices.ops.tasks imports this module.
        current_app.send_task(REFRESH_TASK, args=[str(month), day.isoformat()])

    return kept.kept(_book_key(month, day), version=book_version(day),
                     compute=lambda: compute_book(month=month, day=day), refresh=refresh,
                     force=force)


def keep_margin_books(*, now: dt.datetime) -> list[Month]:
    """Keeps this month's and last month's reports (the report's default page, the admin
    dashboard, and the month just invoiced) warm in the cache, so staff are served a kept
    copy instead of waiting seconds for the whole book to be rated. The months computed."""
    day = now.astimezone(dt.UTC).date()
    version = book_version(day)
    month = Month.of(day)
    return [m for m in (month, month.previous())
            if kept.warm(_book_key(m, day), version=version, now=now,
                         compute=lambda m=m: compute_book(month=m, day=day))]


def margin_report(*, month: Month, day: dt.date, sort: str = "margin",
                  descending: bool = False, refresh: bool = False) -> MarginReport:
    entry = margin_book(month=month, day=day, force=refresh)
    book: MarginBook = entry.value
    return MarginReport(
        month=month, rows=margins.sort_rows(book.rows, sort, descending), totals=book.totals,
        estimated=book.estimated, computed_at=entry.computed_at, allowance=book.allowance,
        allowance_previous=book.allowance_previous,
    )


# --- One customer ---------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerReport:
    customer: Customer
    month: Month
    margin: CustomerMargin
    tail: margins.SeatTail
    seats: list  # usage.selectors.UsageSlice rows by seat, costliest first
    initiated_by: list  # UsageSlice rows by initiated_by
    initiated_shares: dict[str, Decimal | None]  # of cost
    models: list  # UsageSlice rows by model


def _summed(slices) -> dict[str, dict]:
    """UsageSlice rows of several event types → per member: events, tokens, cost."""
    found: dict[str, dict] = defaultdict(lambda: {"events": 0, "tokens": ZERO, "cost": ZERO})
    for s in slices:
        found[s.member]["events"] += s.events
        found[s.member]["tokens"] += s.total_tokens
        found[s.member]["cost"] += s.cost
    return dict(found)


def customer_report(*, customer: Customer, month: Month, day: dt.date) -> CustomerReport:
    start, end = month.start, month.end
    if month.is_open(day):
        upcoming = upcoming_invoice(customer=customer, at=timezone.now())
        revenue = ZERO if upcoming is None else margins.recognized(
            upcoming.rated.total, upcoming.period.start_at, upcoming.period.end_at, month)
    else:
        revenue = invoiced_revenue_of(customer, month)
    cost = cost_by_customer_one(customer, month)
    info = margins.Customer(customer.pk, customer.external_id, customer.name, customer.currency)
    margin = CustomerMargin(info, revenue, cost, estimated=month.is_open(day))
    seats = _summed(usage_slices(customer=customer, start=start, end=end, dimension="seat"))
    initiated = _summed(usage_slices(customer=customer, start=start, end=end,
                                     dimension="initiated_by"))
    models = _summed(usage_slices(customer=customer, start=start, end=end, dimension="model",
                                  event_type=AI_CALL))
    by_cost = lambda rows: sorted(  # noqa: E731
        ({"member": m, **v} for m, v in rows.items()), key=lambda r: (-r["cost"], r["member"]))
    return CustomerReport(
        customer=customer, month=month, margin=margin,
        tail=margins.seat_tail({m: v["cost"] for m, v in seats.items()}),
        seats=by_cost(seats), initiated_by=by_cost(initiated),
        initiated_shares=margins.shares({m: v["cost"] for m, v in initiated.items()}),
        models=by_cost(models),
    )


def invoiced_revenue_of(customer: Customer, month: Month) -> Decimal:
    return _recognized(_overlapping(month).filter(customer=customer), month).get(
        customer.pk, ZERO)


def cost_by_customer_one(customer: Customer, month: Month) -> Decimal:
    rows = book_slices(start=month.start, end=month.end, dimension="",
                       customer_ids=[customer.pk])
    return rows[0].cost if rows else ZERO


# --- Book-wide lists -----------------------------------------------------------------


def cost_by_model(month: Month) -> list:
    """AI calls' events, tokens and provider cost by model over everyone, costliest first."""
    return book_slices(start=month.start, end=month.end, dimension="model",
                       event_type=AI_CALL, by_customer=False)


def renewals_due(*, day: dt.date, days: int = RENEWAL_DAYS) -> Sequence[Contract]:
    return contracts_ending_between(start=day, end=day + dt.timedelta(days=days)).order_by(
        "end_date", "customer__external_id")


def unpriced_models() -> list[dict]:
    return unpriced_model_counts()


# --- The dashboard -------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    drafts: int
    drafts_held: int
    stripe_failed: int
    alerts_sent: int | None  # None until the alerts app has its model
    unpriced_models: int
    renewals_due: int
    month: Month
    totals: MarginTotals
    estimated: bool


def alert_crossings_since(start: dt.datetime) -> int | None:
    """Alert crossings sent since ``start``, when ``invoices.alerts`` has its model."""
    if not apps.is_installed("invoices.alerts"):
        return None
    try:
        model = apps.get_model("alerts", "AlertCrossing")
    except LookupError:
        return None
    moment = next((f.name for f in model._meta.concrete_fields
                   if f.name in ("sent_at", "crossed_at", "created_at")), None)
    rows = model.objects.all()
    return rows.filter(**{f"{moment}__gte": start}).count() if moment else rows.count()


def dashboard(*, day: dt.date) -> Dashboard:
    month = Month.of(day)
    report = margin_report(month=month, day=day)
    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT).aggregate(
        all=Count("pk"), held=Count("pk", filter=Q(on_hold=True)))
    return Dashboard(
        drafts=drafts["all"], drafts_held=drafts["held"],
        stripe_failed=Invoice.objects.filter(
            stripe_state=Invoice.StripeState.FAILED).count(),
        alerts_sent=alert_crossings_since(month.start),
        unpriced_models=len(unpriced_models()),
        renewals_due=renewals_due(day=day).count(),
        month=month, totals=report.totals, estimated=report.estimated,
    )
