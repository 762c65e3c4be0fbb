"""Rating invoices in bulk: load a group of customers once, rate each of their due
periods and drafts, and hand back what to save.

Loading is per group of customers, never per charge or per period: contracts with their
migrations, price books (versions with charges, metrics and tiers), seats, the invoices
late usage needs, and every usage value in one batched call. Rating itself is the pure
engine (``invoices.rating``). A customer whose rating fails is reported and skipped; the
others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Customer, Seat
from invoices.models import Invoice
from invoices.rating import Line, RatedPeriod, SeatSpan, Terms, rate_period, round_money
from invoices.services.late_usage import (
    InvoiceState,
    LateUsage,
    backfill_window,
    late_candidates,
    late_usage_for,
    snapshot_of,
)
from invoices.services.line_rows import (
    line_fingerprint,
    line_fingerprint_of_row,
    line_from_row,
)
from invoices.services.terms import (
    PriceBook,
    contract_overrides,
    contract_periods,
    period_moments,
    period_terms,
    price_book,
    spans_overlapping,
    version_in_force,
)
from invoices.services.usage import UsageRequest, WindowScans, load_usage
from plans.models import Charge, Contract, ContractMigration, PlanVersion
from plans.periods import Period, at_midnight

logger = logging.getLogger(__name__)

BILLABLE_CONTRACTS = (Contract.Status.ACTIVE, Contract.Status.ENDED)


def billing_cutoff(as_of: dt.datetime) -> dt.datetime:
    """Periods ending at or before this are due (SPEC 4: the grace time after the end)."""
    return as_of - dt.timedelta(seconds=settings.BILLING_GRACE_SECONDS)


def as_period(invoice: Invoice) -> Period:
    return Period(invoice.period_start.astimezone(dt.UTC).date(),
                  invoice.period_end.astimezone(dt.UTC).date())


# --- Price books ---------------------------------------------------------------------------


class PriceBooks:
    """Versions with charges, metrics and tiers, loaded once per id for a whole run."""

    def __init__(self) -> None:
        self._books: dict[int, PriceBook] = {}
        self._versions: dict[int, PlanVersion] = {}

    def load(self, version_ids: Iterable[int]) -> None:
        missing = set(version_ids) - set(self._books)
        if not missing:
            return
        charges = Charge.objects.select_related("metric").prefetch_related("tiers")
        for version in PlanVersion.objects.filter(pk__in=missing).select_related(
            "plan"
        ).prefetch_related(Prefetch("charges", queryset=charges)):
            self._books[version.pk] = price_book(version)
            self._versions[version.pk] = version

    def book(self, version_id: int) -> PriceBook:
        if version_id not in self._books:
            self.load([version_id])
        return self._books[version_id]

    def version(self, version_id: int) -> PlanVersion:
        self.book(version_id)
        return self._versions[version_id]


# --- Work -------------------------------------------------------------------------------


@dataclass
class Target:
    """One invoice to rate: a new period, or a draft to rate again."""

    customer_id: int
    contract: Contract
    period: Period
    version_id: int
    existing: Invoice | None = None


@dataclass
class BuiltInvoice:
    target: Target
    terms: Terms
    rated: RatedPeriod
    lines: list[Line]
    total: Decimal
    usage_snapshot: dict[str, str]
    late_usage_snapshots: dict[str, dict[str, str]]
    overrides: dict[str, Any]

    @property
    def currency(self) -> str:
        return self.terms.currency

    def changed(self) -> bool:
        """Whether a draft's saved content differs from this rating."""
        invoice = self.target.existing
        if invoice is None:
            return True
        saved = [line_fingerprint_of_row(row) for row in invoice.lines.all()]
        return (
            saved != [line_fingerprint(line) for line in self.lines]
            or invoice.plan_version_id != self.target.version_id
            or invoice.total != self.total
            or invoice.seat_equivalents != self.rated.seat_equivalents
            or invoice.billed_seats != self.rated.billed_seats
            or invoice.usage_snapshot != self.usage_snapshot
            or invoice.late_usage_snapshots != self.late_usage_snapshots
            or invoice.overrides != self.overrides
        )


@dataclass
class CustomerResult:
    customer_id: int
    built: list[BuiltInvoice] = field(default_factory=list)
    error: str | None = None


def invoice_state(invoice: Invoice, *, with_lines: bool = False) -> InvoiceState:
    late = ()
    if with_lines:
        late = tuple(line_from_row(r) for r in invoice.lines.all() if r.kind == "late_usage")
    return InvoiceState(
        id=invoice.pk, period=as_period(invoice), status=invoice.status,
        plan_version_id=invoice.plan_version_id, overrides=invoice.overrides,
        usage_snapshot=invoice.usage_snapshot, late_usage_snapshots=invoice.late_usage_snapshots,
        late_lines=late,
    )


# --- Loading a group of customers -----------------------------------------------------------


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


def _contracts(customer_ids: Sequence[int], extra_ids: Iterable[int],
               books: PriceBooks) -> list[Contract]:
    wanted = set(customer_ids)
    extra = set(extra_ids)
    contracts = [
        c for c in Contract.objects.filter(
            customer_filter(customer_ids) & Q(status__in=BILLABLE_CONTRACTS) | Q(pk__in=extra)
        ).defer("created_at", "updated_at").order_by("customer_id", "start_date", "pk")
        if c.customer_id in wanted or c.pk in extra
    ]
    # Thousands of contracts share a few versions: one instance each, not one per row.
    books.load({c.plan_version_id for c in contracts})
    for contract in contracts:
        contract.plan_version = books.version(contract.plan_version_id)
    _attach_migrations(contracts)
    return contracts


_NO_MIGRATIONS = ContractMigration.objects.none()
_NO_MIGRATIONS._result_cache = []
_NO_MIGRATIONS._prefetch_done = True


def _attach_migrations(contracts: Sequence[Contract]) -> None:
    """Prefetch scheduled migrations the way ``prefetch_related`` stores them, minus its
    per-contract queryset building (a third of the loading time of a large run)."""
    by_contract: dict[int, list[ContractMigration]] = defaultdict(list)
    for migration in ContractMigration.objects.filter(
        contract__in=[c.pk for c in contracts] if len(contracts) <= 500 else Contract.objects.filter(
            pk__gte=min(c.pk for c in contracts), pk__lte=max(c.pk for c in contracts)),
        status=ContractMigration.Status.SCHEDULED,
    ).select_related("plan_version"):
        by_contract[migration.contract_id].append(migration)
    for contract in contracts:
        migrations = by_contract.get(contract.pk)
        if migrations is None:
            cached = _NO_MIGRATIONS  # shared and never changed: it is only iterated
        else:
            cached = ContractMigration.objects.none()
            cached._result_cache = migrations
            cached._prefetch_done = True
        contract._prefetched_objects_cache = {"migrations": cached}


def due_periods(contract: Contract, *, cutoff: dt.datetime, invoiced: set) -> list[Period]:
    # A period ends at midnight, so it ends by the cutoff when its end day is not after
    # the cutoff's UTC day: the periods that end by ``until`` are exactly the due ones.
    until = cutoff.astimezone(dt.UTC).date()
    return [
        p for p in contract_periods(contract, until=until)
        if (contract.pk, p.start) not in invoiced
    ]


def _version_id(contract: Contract, period: Period) -> int:
    """The id of the version in force for ``period`` (a contract from :func:`_contracts`)."""
    if contract._prefetched_objects_cache["migrations"] is _NO_MIGRATIONS:
        return contract.plan_version_id  # nothing scheduled: the pinned version
    return version_in_force(contract, period).pk


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


def _seats(customer_ids: Sequence[int], start: dt.datetime, end: dt.datetime):
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
    return by_customer


def too_many_periods(contract: Contract, *, due: int, limit: int) -> str:
    return (
        f"PeriodLimitExceeded: contract {contract.pk} has {due} periods due, more than the "
        f"{limit} one run may bill (BILLING_MAX_PERIODS_PER_CONTRACT_RUN); none were billed. "
        f"Check its start date ({contract.start_date.isoformat()}), then bill it with a "
        f"higher limit if it is right."
    )


class Rater:
    """Rates the work of one group of customers."""

    def __init__(self, *, books: PriceBooks | None = None,
                 scans: WindowScans | None = None, max_periods: int | None = None) -> None:
        self.books = books or PriceBooks()
        self.scans = scans
        # A contract with more periods due than this is refused, not billed: thousands of
        # drafts from one run mean a wrong start date or as_of, which ops should look at.
        self.max_periods = max_periods
        self.refused: dict[int, str] = {}  # customer id → why none of its work was rated
        self._overrides: dict[int, tuple[dict[str, Any], tuple]] = {}
        self._terms_cache: dict[tuple, Terms] = {}

    # Targets -------------------------------------------------------------------------
    def targets(
        self, customer_ids: Sequence[int], *, as_of: dt.datetime | None,
        drafts: Sequence[Invoice] = (), rerate_held: bool = False,
    ) -> tuple[list[Target], list[Contract]]:
        """New periods due at ``as_of`` (None: none) plus drafts to rate again.

        Without explicit ``drafts``, every draft of the customers that is not on hold.
        """
        if not drafts and as_of is not None:
            queryset = Invoice.objects.filter(customer_filter(customer_ids), status="draft")
            if not rerate_held:
                queryset = queryset.filter(on_hold=False)
            wanted = set(customer_ids)
            drafts = [d for d in queryset.prefetch_related("lines") if d.customer_id in wanted]
        contracts = _contracts(customer_ids, {d.contract_id for d in drafts}, self.books)
        by_id = {c.pk: c for c in contracts}
        targets = [
            Target(d.customer_id, by_id[d.contract_id], as_period(d),
                   _version_id(by_id[d.contract_id], as_period(d)), existing=d)
            for d in drafts
        ]
        if as_of is not None:
            cutoff = billing_cutoff(as_of)
            billable = [c for c in contracts if c.status in BILLABLE_CONTRACTS]
            invoiced = invoiced_periods(c.pk for c in billable)
            for contract in billable:
                due = due_periods(contract, cutoff=cutoff, invoiced=invoiced)
                if self.max_periods is not None and len(due) > self.max_periods:
                    self.refused[contract.customer_id] = too_many_periods(
                        contract, due=len(due), limit=self.max_periods)
                    continue
                for period in due:
                    targets.append(Target(contract.customer_id, contract, period,
                                          _version_id(contract, period)))
            # A customer's invoices hang together (late usage): refuse all of its work.
            targets = [t for t in targets if t.customer_id not in self.refused]
        targets.sort(key=lambda t: (t.customer_id, t.period.start, t.contract.pk))
        return targets, contracts

    # Rating ------------------------------------------------------------------------------
    def rate(self, targets: Sequence[Target]) -> list[CustomerResult]:
        """Rate targets (sorted by customer, then period); one result per customer."""
        if not targets:
            return []
        customer_ids = sorted({t.customer_id for t in targets})
        earliest = min(t.period.start for t in targets)
        states = self._states(customer_ids, since=earliest - backfill_window())
        rerated = {t.existing.pk: t.existing for t in targets if t.existing is not None}
        if rerated:
            for rows in states.values():
                for state in rows:
                    if state.id in rerated:
                        state.rerating = True
                        state.late_lines = invoice_state(
                            rerated[state.id], with_lines=True).late_lines

        version_ids = {t.version_id for t in targets}
        version_ids |= {s.plan_version_id for rows in states.values() for s in rows}
        self.books.load(version_ids)

        windows = [t.period for t in targets] + [
            s.period for rows in states.values() for s in rows
        ]
        seats = _seats(
            customer_ids, at_midnight(min(p.start for p in windows)),
            at_midnight(max(p.end for p in windows)),
        )
        usage = self._usage(targets, states)

        results: dict[int, CustomerResult] = {}
        for target in targets:
            result = results.setdefault(target.customer_id, CustomerResult(target.customer_id))
            if result.error is not None:
                continue  # one bad period fails the customer: its invoices hang together
            try:
                result.built.append(
                    self._build(target, states[target.customer_id],
                                seats.get(target.customer_id, ()), usage)
                )
            except Exception as error:
                logger.exception("rating customer %s failed", target.customer_id)
                result.error = f"{type(error).__name__}: {error}"
                result.built = []
        return list(results.values())

    def _states(self, customer_ids: Sequence[int], *, since: dt.date):
        states: dict[int, list[InvoiceState]] = defaultdict(list)
        wanted = set(customer_ids)
        rows = (
            Invoice.objects.filter(customer_filter(customer_ids),
                                   period_end__gt=at_midnight(since))
            .exclude(status="void")
            .order_by("customer_id", "period_start")
            .values("id", "customer_id", "period_start", "period_end", "status",
                    "plan_version_id", "overrides", "usage_snapshot", "late_usage_snapshots")
        )
        for row in rows:
            if row["customer_id"] not in wanted:
                continue
            states[row["customer_id"]].append(InvoiceState(
                id=row["id"],
                period=Period(row["period_start"].astimezone(dt.UTC).date(),
                              row["period_end"].astimezone(dt.UTC).date()),
                status=row["status"], plan_version_id=row["plan_version_id"],
                overrides=row["overrides"], usage_snapshot=row["usage_snapshot"],
                late_usage_snapshots=row["late_usage_snapshots"],
            ))
        return states

    def _usage_key(self, customer_id: int, period: Period, version_id: int) -> tuple:
        return (customer_id, period.start, period.end, version_id)

    def _usage(self, targets: Sequence[Target], states) -> dict[tuple, dict[str, Decimal]]:
        requests: dict[tuple, UsageRequest] = {}

        def ask(customer_id: int, period: Period, version_id: int) -> None:
            key = self._usage_key(customer_id, period, version_id)
            if key not in requests:
                start, end = period_moments(period)
                requests[key] = UsageRequest(
                    customer_id, start, end, version_id, self.books.book(version_id).usage_charges,
                )

        for target in targets:
            ask(target.customer_id, target.period, target.version_id)
            if not states.get(target.customer_id):
                continue  # a new customer's first invoice: no earlier period to look at
            for original in late_candidates(
                states[target.customer_id], target_start=target.period.start
            ):
                ask(target.customer_id, original.period, original.plan_version_id)
        keys = list(requests)
        values = load_usage([requests[k] for k in keys], scans=self.scans)
        return dict(zip(keys, values, strict=True))

    def _terms(self, version_id: int, overrides: dict[str, Any],
               items: tuple | None = None) -> Terms:
        # Most contracts share their terms (same version, no negotiated prices).
        key = (version_id, tuple(sorted(overrides.items())) if items is None else items)
        terms = self._terms_cache.get(key)
        if terms is None:
            terms = self._terms_cache[key] = period_terms(self.books.book(version_id), overrides)
        return terms

    def _contract_overrides(self, contract: Contract) -> tuple[dict[str, Any], tuple]:
        """The contract's overrides, and their items sorted (half of a terms key)."""
        found = self._overrides.get(contract.pk)
        if found is None:
            overrides = contract_overrides(contract)
            found = self._overrides[contract.pk] = (overrides, tuple(sorted(overrides.items())))
        return found

    def _build(self, target: Target, states: list[InvoiceState], seats: Sequence[SeatSpan],
               usage: dict[tuple, dict[str, Decimal]]) -> BuiltInvoice:
        overrides, items = self._contract_overrides(target.contract)
        terms = self._terms(target.version_id, overrides, items)
        values = usage[self._usage_key(target.customer_id, target.period, target.version_id)]
        rated = rate_period(
            terms=terms, seats=spans_overlapping(seats, target.period), usage=values,
            period=target.period,
        )
        previous = None
        state = None
        if target.existing is not None:
            state = next((s for s in states if s.id == target.existing.pk), None)
            previous = state
        if state is None:
            state = InvoiceState(
                id=object(), period=target.period, status="draft",
                plan_version_id=target.version_id, overrides=overrides, usage_snapshot={},
                late_usage_snapshots={}, rerating=True,
            )
            states.append(state)
        late = LateUsage()
        if any(s.billed for s in states):  # only billed periods can have late usage
            late = late_usage_for(
                target=state, states=states,
                terms_of=lambda s: self._terms(s.plan_version_id, s.overrides),
                seats=seats,
                usage_now=lambda s: usage[
                    self._usage_key(target.customer_id, s.period, s.plan_version_id)
                ],
                previous=previous,
            )
        lines = [*rated.lines, *late.lines]
        total = round_money(sum((line.amount for line in lines), Decimal(0)), terms.currency)
        built = BuiltInvoice(
            target=target, terms=terms, rated=rated, lines=lines, total=total,
            usage_snapshot=snapshot_of(values), late_usage_snapshots=late.snapshots,
            overrides=overrides,
        )
        # Later invoices of this pass measure their late usage from this one.
        state.plan_version_id = target.version_id
        state.overrides = overrides
        state.usage_snapshot = built.usage_snapshot
        state.late_usage_snapshots = built.late_usage_snapshots
        state.late_lines = tuple(late.lines)
        return built


def customers_of(ids: Iterable[int]) -> dict[int, Customer]:
    return Customer.objects.in_bulk(list(ids))
