"""Rating a group of customers' work: every target becomes a rated invoice, late usage
included. Pure: :class:`Work` (everything loaded up front) in, ratings out.

Targets are rated per customer in period order, because each invoice's late usage is
measured from what the customer's earlier invoices (saved ones, and the ones rated
before it in this pass) billed. One failing target fails its customer (its invoices
hang together); the other customers go on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from invoices.rating.books import PriceBook
from invoices.rating.engine import rate_period
from invoices.rating.late_usage import InvoiceState, LateUsage, late_usage_for, snapshot_of
from invoices.rating.money import round_money
from invoices.rating.planning import ContractTerms, Target, spans_overlapping
from invoices.rating.types import InvoiceStatus, Line, RatedPeriod, SeatSpan, Terms
from plans.periods import Period

logger = logging.getLogger(__name__)

UsageKey = tuple[int, Period, int]  # customer id, period, version id


def usage_key(customer_id: int, period: Period, version_id: int) -> UsageKey:
    return (customer_id, period, version_id)


@dataclass(frozen=True)
class Work:
    """Everything rating a group of customers needs."""

    targets: tuple[Target, ...]  # by customer, then period start, then contract
    contracts: Mapping[int, ContractTerms]
    books: Mapping[int, PriceBook]  # every version a target or an earlier invoice names
    seats: Mapping[int, Sequence[SeatSpan]]  # per customer, over every period involved
    # Per customer, its invoices late usage looks at: those ending within the backfill
    # window before the earliest target, the drafts rated again among them.
    states: Mapping[int, Sequence[InvoiceState]]
    usage: Mapping[UsageKey, Mapping[str, Decimal]]  # each target's and late candidate's
    backfill: dt.timedelta


@dataclass(frozen=True)
class RatedInvoice:
    target: Target
    terms: Terms
    rated: RatedPeriod
    lines: tuple[Line, ...]
    total: Decimal
    usage_snapshot: dict[str, str]
    late_usage_snapshots: Mapping[str, Mapping[str, str]]
    overrides: dict[str, Any]

    @property
    def currency(self) -> str:
        return self.terms.currency


@dataclass(frozen=True)
class CustomerRating:
    customer_id: int
    invoices: tuple[RatedInvoice, ...] = ()
    error: str | None = None


@dataclass
class _Customer:
    """One customer's pass: its invoice states, updated as each target is rated."""

    customer_id: int
    states: list[InvoiceState]
    seats: Sequence[SeatSpan]
    invoices: list[RatedInvoice] = field(default_factory=list)
    error: str | None = None


class _TermsCache:
    """Terms per (version, overrides): most contracts share theirs."""

    def __init__(self, books: Mapping[int, PriceBook]) -> None:
        self.books = books
        self._terms: dict[tuple, Terms] = {}

    def get(self, version_id: int, overrides: tuple) -> Terms:
        key = (version_id, overrides)
        terms = self._terms.get(key)
        if terms is None:
            terms = self._terms[key] = self.books[version_id].with_overrides(dict(overrides))
        return terms

    def of_state(self, state: InvoiceState) -> Terms:
        return self.get(state.plan_version_id, tuple(sorted(state.overrides.items())))


def rate_work(work: Work) -> list[CustomerRating]:
    """One rating per customer with targets, in the order of ``work.targets``."""
    terms = _TermsCache(work.books)
    customers: dict[int, _Customer] = {}
    for target in work.targets:
        customer = customers.get(target.customer_id)
        if customer is None:
            customer = customers[target.customer_id] = _Customer(
                target.customer_id, list(work.states.get(target.customer_id, ())),
                work.seats.get(target.customer_id, ()),
            )
        if customer.error is not None:
            continue  # one bad period fails the customer: its invoices hang together
        try:
            customer.invoices.append(_rate(target, customer, work, terms))
        except Exception as error:
            logger.exception("rating customer %s failed", target.customer_id)
            customer.error = f"{type(error).__name__}: {error}"
            customer.invoices = []
    return [
        CustomerRating(c.customer_id, tuple(c.invoices), c.error) for c in customers.values()
    ]


def _rate(target: Target, customer: _Customer, work: Work, cache: _TermsCache) -> RatedInvoice:
    contract = work.contracts[target.contract_id]
    terms = cache.get(target.version_id, contract.overrides)
    overrides = contract.overrides_json()
    values = work.usage[usage_key(target.customer_id, target.period, target.version_id)]
    rated = rate_period(
        terms=terms, seats=spans_overlapping(customer.seats, target.period), usage=values,
        period=target.period,
    )
    states = customer.states
    index, previous = _saved_state(states, target)
    if index is None:
        state = InvoiceState(
            id=object(), period=target.period, status=InvoiceStatus.DRAFT,
            plan_version_id=target.version_id, overrides=overrides, usage_snapshot={},
            late_usage_snapshots={}, rerating=True,
        )
        states.append(state)
        index = len(states) - 1
    else:
        state = states[index]
    late = LateUsage()
    if any(s.billed for s in states):  # only billed periods can have late usage
        late = late_usage_for(
            target=state, states=states, terms_of=cache.of_state, seats=customer.seats,
            usage_now=lambda s: work.usage[
                usage_key(target.customer_id, s.period, s.plan_version_id)],
            backfill=work.backfill, previous=previous,
        )
    lines = (*rated.lines, *late.lines)
    total = round_money(sum((line.amount for line in lines), Decimal(0)), terms.currency)
    invoice = RatedInvoice(
        target=target, terms=terms, rated=rated, lines=lines, total=total,
        usage_snapshot=snapshot_of(values), late_usage_snapshots=late.snapshots,
        overrides=overrides,
    )
    # Later invoices of this pass measure their late usage from this one.
    states[index] = InvoiceState(
        id=state.id, period=state.period, status=state.status,
        plan_version_id=target.version_id, overrides=overrides,
        usage_snapshot=invoice.usage_snapshot, late_usage_snapshots=late.snapshots,
        late_lines=late.lines, rerating=state.rerating,
    )
    return invoice


def _saved_state(states: Sequence[InvoiceState],
                 target: Target) -> tuple[int | None, InvoiceState | None]:
    """A re-rated draft's own state (its index and itself), else (None, None)."""
    if target.draft_id is None:
        return None, None
    for index, state in enumerate(states):
        if state.id == target.draft_id:
            return index, state
    return None, None
