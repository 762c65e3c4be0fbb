"""Loading a billing run's work: everything rating a group of customers needs, as plain
frozen data, in a handful of queries per group (never per charge, period or customer).

1. the group's contracts (calendar, pinned version, overrides, scheduled migrations),
   the keys of their existing invoices, and the drafts to rate again;
2. the plan: which periods are due and on which version (``invoices.rating.planning``,
   pure; the cutoff and the per-contract cap come from the caller);
3. for that plan: the customers' earlier invoices late usage looks at, the price books
   of every version involved (one ``PriceBook`` each, shared by the whole run), seat
   history, and every usage value in one batched call (``invoices.selectors.usage``).

What comes out, a :class:`BillingLoad`, is rated by ``invoices.rating.drafts.rate_work``
and saved by ``invoices.services.invoice_writer``; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import Seat
from invoices.models import Invoice, InvoiceLine
from invoices.rating import Line, SeatSpan
from invoices.rating.books import OVERRIDE_FIELDS, PriceBook
from invoices.rating.drafts import UsageKey, Work, usage_key
from invoices.rating.late_usage import InvoiceState, late_candidates
from invoices.rating.planning import (
    Calendar,
    ContractTerms,
    DraftKey,
    Migration,
    Target,
    cutoff_day,
    due_periods,
    period_moments,
    plan_run,
)
from invoices.selectors.line_rows import line_fingerprint_of_row, line_from_row
from invoices.selectors.terms import load_price_books, overrides_json
from invoices.selectors.usage import UsageRequest, WindowScans, load_usage
from plans.models import Contract, ContractMigration
from plans.periods import Period, at_midnight

BILLABLE_CONTRACTS = (Contract.Status.ACTIVE, Contract.Status.ENDED)
DRAFT = Invoice.Status.DRAFT
VOID = Invoice.Status.VOID
LATE_USAGE = InvoiceLine.Kind.LATE_USAGE


@dataclass(frozen=True)
class SavedDraft:
    """A draft as saved, to tell whether rating it again changed anything."""

    id: Any
    customer_id: int
    contract_id: int
    period: Period
    plan_version_id: int
    total: Decimal
    seat_equivalents: Decimal
    billed_seats: Decimal
    usage_snapshot: Mapping[str, Any]
    late_usage_snapshots: Mapping[str, Any]
    overrides: Mapping[str, Any]
    line_fingerprints: tuple[tuple, ...]
    late_lines: tuple[Line, ...]

    @property
    def key(self) -> DraftKey:
        return DraftKey(self.id, self.customer_id, self.contract_id, self.period)


@dataclass(frozen=True)
class BillingLoad:
    work: Work  # what the engine rates
    drafts: Mapping[Any, SavedDraft]  # the drafts rated again, as saved, by id
    refused: Mapping[int, str]  # customers none of whose work is rated, and why


def backfill_window() -> dt.timedelta:
    """How far back events may land (the ingest API refuses older ones)."""
    return dt.timedelta(days=settings.USAGE_BACKFILL_DAYS)


# --- Entry points -------------------------------------------------------------------------


def load_run(
    *, customer_ids: Sequence[int], cutoff: dt.datetime, max_periods: int | None,
    books: MutableMapping[int, PriceBook] | None = None, scans: WindowScans | None = None,
) -> BillingLoad:
    """A run's work for some customers (sorted ids): every period due by ``cutoff`` and
    every draft not on hold. ``books`` and ``scans`` are shared by a run's chunks."""
    wanted = set(customer_ids)
    drafts = [
        d for d in _saved_drafts(
            Invoice.objects.filter(customer_filter(customer_ids), status=DRAFT, on_hold=False))
        if d.customer_id in wanted
    ]
    extra = {d.contract_id for d in drafts}
    contracts = [
        c for c in _contracts(
            customer_filter(customer_ids) & Q(status__in=BILLABLE_CONTRACTS) | Q(pk__in=extra))
        if c.customer_id in wanted or c.contract_id in extra
    ]
    billable = [c for c in contracts if c.status in BILLABLE_CONTRACTS]
    plan = plan_run(
        contracts=billable, drafts=[d.key for d in drafts],
        by_id={c.contract_id: c for c in contracts},
        invoiced=invoiced_periods(c.contract_id for c in billable),
        cutoff=cutoff, max_periods=max_periods,
    )
    return _load(plan.targets, contracts, drafts, plan.refused, books=books, scans=scans)


def load_redraft(*, draft_ids: Iterable[Any]) -> BillingLoad:
    """The named drafts (held ones too), to rate again."""
    drafts = _saved_drafts(Invoice.objects.filter(pk__in=list(draft_ids), status=DRAFT))
    contracts = _contracts(Q(pk__in={d.contract_id for d in drafts}))
    plan = plan_run(contracts=(), drafts=[d.key for d in drafts],
                    by_id={c.contract_id: c for c in contracts})
    return _load(plan.targets, contracts, drafts, plan.refused)


def load_period(*, contract_id: int, period: Period, draft_id: Any = None) -> BillingLoad:
    """One period of one contract, to rate without saving (the upcoming invoice); with
    ``draft_id``, the period's saved draft is what is rated again."""
    (contract,) = _contracts(Q(pk=contract_id))
    drafts = _saved_drafts(Invoice.objects.filter(pk=draft_id)) if draft_id is not None else []
    if drafts:
        targets = plan_run(contracts=(), drafts=[drafts[0].key],
                           by_id={contract_id: contract}).targets
    else:
        targets = (Target(contract.customer_id, contract_id, period,
                          contract.version_for(period)),)
    return _load(targets, [contract], drafts, {})


def load_contracts(*, where: Q) -> list[ContractTerms]:
    """Contracts as a run sees them (calendar, pinned version, overrides, migrations),
    by customer and start: for callers that choose their own targets (a backtest)."""
    return _contracts(where)


def load_unbilled(
    *, targets: Sequence[Target], contracts: Sequence[ContractTerms],
    books: MutableMapping[int, PriceBook] | None = None, scans: WindowScans | None = None,
) -> Work:
    """The work of rating ``targets`` (any versions) as if nothing had been invoiced:
    every event known now counts in its own period, so no late usage. The pricing lab's
    backtest: what a period costs on a version, on the run's own load and engine."""
    return _load(targets, contracts, (), {}, books=books, scans=scans, history=False).work


def load_open_periods(*, contracts: Sequence[ContractTerms], day: dt.date,
                      books: MutableMapping[int, PriceBook] | None = None) -> BillingLoad:
    """The period containing ``day`` of each contract (one per customer), to rate without
    saving, for many customers at once: the upcoming invoice's load (earlier invoices'
    late usage included) in a handful of queries for the whole group (usage alerts).
    An open period has no draft (a run drafts only periods that are due)."""
    targets = []
    for contract in contracts:
        period = contract.calendar.period_containing(day)
        targets.append(Target(contract.customer_id, contract.contract_id, period,
                              contract.version_for(period)))
    targets.sort(key=lambda t: t.sort_key)
    return _load(targets, contracts, (), {}, books=books)


@dataclass(frozen=True)
class DueWork:
    customer_ids: list[int]
    periods_due: int


def due_work(*, cutoff: dt.datetime) -> DueWork:
    """Customers with a period due by ``cutoff`` or a draft to rate again, and how many
    periods are due. Cheap: contract columns and invoice keys only, no usage."""
    until = cutoff_day(cutoff)
    contracts = fetch_values(
        Contract.objects.filter(status__in=BILLABLE_CONTRACTS, start_date__lt=until)
        .order_by().values_list("pk", "customer_id", "anchor_date",
                                "plan_version__billing_interval", "start_date", "end_date")
    )
    invoiced = invoiced_periods(c[0] for c in contracts)
    customers: set[int] = set()
    periods = 0
    for pk, customer_id, anchor, interval, start, end_date in contracts:
        due = due_periods(pk, Calendar(anchor, interval, start, end_date), until=until,
                          invoiced=invoiced)
        if due:
            periods += len(due)
            customers.add(customer_id)
    customers |= set(
        Invoice.objects.filter(status=DRAFT, on_hold=False)
        .order_by().values_list("customer_id", flat=True).distinct()
    )
    return DueWork(sorted(customers), periods)


def invoiced_periods(contract_ids: Iterable[int]) -> set[tuple[int, dt.date]]:
    """(contract, period start) of every invoice, whatever its status."""
    ids = sorted(set(contract_ids))
    if not ids:
        return set()
    wanted = set(ids)
    rows = fetch_values(
        Invoice.objects.filter(customer_filter(ids, "contract_id")).order_by()
        .values_list("contract_id", "period_start")
    )
    return {
        (contract_id, start.astimezone(dt.UTC).date())
        for contract_id, start in rows if contract_id in wanted
    }


# --- Queries ------------------------------------------------------------------------------


def fetch_values(queryset: QuerySet) -> list[tuple]:
    """The rows of a ``values_list`` query without JSON columns.

    On PostgreSQL they come in binary: psycopg's C loaders make datetimes several times
    faster than the text loader Django installs, and a large group loads tens of
    thousands of them (seats). Same values, same UTC datetimes.
    """
    if connection.vendor != "postgresql":
        return list(queryset)
    statement, params = queryset.query.sql_with_params()
    # Django's own cursors bind client-side, which has no binary results.
    with connection.cursor() as cursor, psycopg.Cursor(cursor.connection) as binary:
        binary.execute(statement, params, binary=True)
        return binary.fetchall()


def customer_filter(customer_ids: Sequence[int], field: str = "customer_id") -> Q:
    """``field IN ids``, or for a long sorted list the id range it spans (callers drop the
    rows of customers outside the list): Django prepares an ``IN`` list value by value."""
    if len(customer_ids) <= 500:
        return Q(**{f"{field}__in": customer_ids})
    return Q(**{f"{field}__gte": min(customer_ids), f"{field}__lte": max(customer_ids)})


def _as_period(start: dt.datetime, end: dt.datetime) -> Period:
    return Period(start.astimezone(dt.UTC).date(), end.astimezone(dt.UTC).date())


def _saved_drafts(queryset: QuerySet) -> list[SavedDraft]:
    drafts = []
    for invoice in queryset.prefetch_related("lines").order_by("customer_id", "period_start"):
        rows = list(invoice.lines.all())
        drafts.append(SavedDraft(
            id=invoice.pk, customer_id=invoice.customer_id, contract_id=invoice.contract_id,
            period=_as_period(invoice.period_start, invoice.period_end),
            plan_version_id=invoice.plan_version_id, total=invoice.total,
            seat_equivalents=invoice.seat_equivalents, billed_seats=invoice.billed_seats,
            usage_snapshot=invoice.usage_snapshot,
            late_usage_snapshots=invoice.late_usage_snapshots, overrides=invoice.overrides,
            line_fingerprints=tuple(line_fingerprint_of_row(row) for row in rows),
            late_lines=tuple(line_from_row(row) for row in rows if row.kind == LATE_USAGE),
        ))
    return drafts


_CONTRACT_COLUMNS = ("pk", "customer_id", "status", "anchor_date", "plan_version__billing_interval",
                     "start_date", "end_date", "plan_version_id", *OVERRIDE_FIELDS)


def _contracts(where: Q) -> list[ContractTerms]:
    rows = fetch_values(
        Contract.objects.filter(where).order_by("customer_id", "start_date", "pk")
        .values_list(*_CONTRACT_COLUMNS)
    )
    migrations = _migrations([row[0] for row in rows])
    # Thousands of contracts share a few calendars and sets of overrides: one of each.
    calendars: dict[tuple, Calendar] = {}
    overrides: dict[tuple, tuple] = {}
    contracts = []
    for pk, customer_id, status, anchor, interval, start, end, version_id, *negotiated in rows:
        dates = (anchor, interval, start, end)
        calendar = calendars.get(dates)
        if calendar is None:
            calendar = calendars[dates] = Calendar(*dates)
        values = tuple(negotiated)
        stored = overrides.get(values)
        if stored is None:
            stored = overrides[values] = overrides_json(dict(zip(OVERRIDE_FIELDS, values,
                                                                 strict=True)))
        contracts.append(ContractTerms(
            contract_id=pk, customer_id=customer_id, status=status, calendar=calendar,
            version_id=version_id, overrides=stored, migrations=migrations.get(pk, ()),
        ))
    return contracts


def _migrations(contract_ids: Sequence[int]) -> dict[int, tuple[Migration, ...]]:
    """Scheduled migrations per contract, by effective date."""
    if not contract_ids:
        return {}
    wanted = set(contract_ids)
    found: dict[int, list[Migration]] = defaultdict(list)
    for contract_id, effective, version_id in fetch_values(
        ContractMigration.objects.filter(
            customer_filter(sorted(wanted), "contract_id"),
            status=ContractMigration.Status.SCHEDULED,
        ).order_by("contract_id", "effective_date", "pk")
        .values_list("contract_id", "effective_date", "plan_version_id")
    ):
        if contract_id in wanted:
            found[contract_id].append(Migration(effective, version_id))
    return {pk: tuple(rows) for pk, rows in found.items()}


def _load(
    targets: Sequence[Target], contracts: Sequence[ContractTerms],
    drafts: Sequence[SavedDraft], refused: Mapping[int, str], *,
    books: MutableMapping[int, PriceBook] | None = None, scans: WindowScans | None = None,
    history: bool = True,
) -> BillingLoad:
    """Everything rating ``targets`` needs besides their contracts; without ``history``,
    no earlier invoices (so no late usage)."""
    by_id = {d.id: d for d in drafts}
    backfill = backfill_window()
    work_books: dict[int, PriceBook] = {}
    states: dict[int, list[InvoiceState]] = {}
    seats: dict[int, tuple[SeatSpan, ...]] = {}
    usage: dict[UsageKey, dict[str, Decimal]] = {}
    if targets:
        customer_ids = sorted({t.customer_id for t in targets})
        earliest = min(t.period.start for t in targets)
        if history:
            states = _states(customer_ids, since=earliest - backfill, rerated=by_id)
        work_books = load_price_books(
            {t.version_id for t in targets}
            | {s.plan_version_id for rows in states.values() for s in rows},
            books,
        )
        windows = [t.period for t in targets] + [
            s.period for rows in states.values() for s in rows]
        seats = _seats(customer_ids, at_midnight(min(p.start for p in windows)),
                       at_midnight(max(p.end for p in windows)))
        usage = _usage(targets, states, work_books, backfill, scans)
    work = Work(
        targets=tuple(targets), contracts={c.contract_id: c for c in contracts},
        books=work_books, seats=seats, states={k: tuple(v) for k, v in states.items()},
        usage=usage, backfill=backfill,
    )
    return BillingLoad(work, by_id, dict(refused))


def _states(customer_ids: Sequence[int], *, since: dt.date,
            rerated: Mapping[Any, SavedDraft]) -> dict[int, list[InvoiceState]]:
    """The customers' non-void invoices ending after ``since``, by period start; the
    drafts being rated again are marked so, with their saved late lines."""
    states: dict[int, list[InvoiceState]] = defaultdict(list)
    wanted = set(customer_ids)
    rows = (
        Invoice.objects.filter(customer_filter(customer_ids), period_end__gt=at_midnight(since))
        .exclude(status=VOID)
        .order_by("customer_id", "period_start")
        .values("id", "customer_id", "period_start", "period_end", "status",
                "plan_version_id", "overrides", "usage_snapshot", "late_usage_snapshots")
    )
    for row in rows:
        if row["customer_id"] not in wanted:
            continue
        draft = rerated.get(row["id"])
        states[row["customer_id"]].append(InvoiceState(
            id=row["id"], period=_as_period(row["period_start"], row["period_end"]),
            status=row["status"], plan_version_id=row["plan_version_id"],
            overrides=row["overrides"], usage_snapshot=row["usage_snapshot"],
            late_usage_snapshots=row["late_usage_snapshots"],
            late_lines=draft.late_lines if draft is not None else (),
            rerating=draft is not None,
        ))
    return states


def _seats(customer_ids: Sequence[int], start: dt.datetime,
           end: dt.datetime) -> dict[int, tuple[SeatSpan, ...]]:
    wanted = set(customer_ids)
    by_customer: dict[int, list[SeatSpan]] = defaultdict(list)
    rows = fetch_values(
        Seat.objects.filter(customer_filter(customer_ids), active_from__lt=end)
        .filter(Q(active_until__isnull=True) | Q(active_until__gt=start))
        .order_by("customer_id", "active_from", "pk")
        .values_list("customer_id", "email", "active_from", "active_until")
    )
    for customer_id, email, active_from, active_until in rows:
        if customer_id in wanted:
            by_customer[customer_id].append(SeatSpan(email, active_from, active_until))
    return {pk: tuple(spans) for pk, spans in by_customer.items()}


def _usage(targets: Sequence[Target], states: Mapping[int, Sequence[InvoiceState]],
           books: Mapping[int, PriceBook], backfill: dt.timedelta,
           scans: WindowScans | None) -> dict[UsageKey, dict[str, Decimal]]:
    """Each target's usage, and each late candidate's usage today, in one batched call."""
    requests: dict[UsageKey, UsageRequest] = {}

    def ask(customer_id: int, period: Period, version_id: int) -> None:
        key = usage_key(customer_id, period, version_id)
        if key not in requests:
            start, end = period_moments(period)
            requests[key] = UsageRequest(customer_id, start, end, version_id,
                                         books[version_id].usage_charges)

    for target in targets:
        ask(target.customer_id, target.period, target.version_id)
        earlier = states.get(target.customer_id)
        if not earlier:
            continue  # a new customer's first invoice: no earlier period to look at
        for original in late_candidates(earlier, target_start=target.period.start,
                                        backfill=backfill):
            ask(target.customer_id, original.period, original.plan_version_id)
    keys = list(requests)
    values = load_usage([requests[k] for k in keys], scans=scans)
    return dict(zip(keys, values, strict=True))
