"""The backtest's pure steps: which customer-periods it re-rates, how the two ratings are
compared, and the summary. No ORM, no clock: ``invoices.lab.backtest_load`` loads with
the billing run's loader and ``invoices.rating.drafts.rate_work`` rates, unchanged.

A customer-period is one of a customer's latest ``periods`` contract periods on the plan
that ended by the backtest's day. It is rated twice by the same engine: on the candidate
version, and, when it has no invoice, on the version in force for it (its own); when it
has one, the invoice's total is the current total. Both ratings see every event known
now in their own period, so neither carries late usage (an invoice's total does, when it
billed some: that is what was invoiced).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from invoices.rating.drafts import CustomerRating, RatedInvoice, Work
from invoices.rating.planning import ContractTerms, Target
from plans.periods import Period

ZERO = Decimal(0)


def backtest_periods(contracts: Iterable[ContractTerms], *, until: dt.date,
                     periods: int) -> list[tuple[ContractTerms, Period]]:
    """Each customer's latest ``periods`` periods ended by ``until`` over its contracts,
    by customer, then period start."""
    by_customer: dict[int, list[tuple[ContractTerms, Period]]] = {}
    for contract in contracts:
        found = [(contract, p) for p in contract.calendar.periods(until=until)]
        by_customer.setdefault(contract.customer_id, []).extend(found)
    chosen = []
    for customer_id in sorted(by_customer):
        rows = sorted(by_customer[customer_id], key=lambda r: (r[1].start, r[0].contract_id))
        chosen.extend(rows[-periods:])
    return chosen


@dataclass(frozen=True)
class Plan:
    """What to rate: the candidate's targets, and the own-version targets of the periods
    that have no invoice."""

    candidate: tuple[Target, ...]
    current: tuple[Target, ...]


def plan_backtest(chosen: Sequence[tuple[ContractTerms, Period]], *, candidate_id: int,
                  invoiced: Mapping[tuple[int, dt.date], object]) -> Plan:
    """``invoiced`` holds the (contract id, period start) of the periods with an invoice."""
    candidate, current = [], []
    for contract, period in chosen:
        candidate.append(Target(contract.customer_id, contract.contract_id, period,
                                candidate_id))
        if (contract.contract_id, period.start) not in invoiced:
            current.append(Target(contract.customer_id, contract.contract_id, period,
                                  contract.version_for(period)))
    return Plan(tuple(candidate), tuple(current))


def split_work(work: Work, plan: Plan) -> tuple[Work, Work]:
    """The loaded work (both kinds of targets at once) as the candidate's and the
    current's: a customer's ratings of one kind must not see the other's as earlier
    invoices."""
    return (dataclasses.replace(work, targets=plan.candidate),
            dataclasses.replace(work, targets=plan.current))


@dataclass(frozen=True)
class Invoiced:
    """A period's invoice as the backtest compares it."""

    total: Decimal
    version_id: int


@dataclass(frozen=True)
class Row:
    customer_id: int
    contract_id: int
    period: Period
    currency: str
    current_version_id: int
    invoiced: bool
    current_total: Decimal
    candidate_total: Decimal
    provider_cost: Decimal
    billed_seats: Decimal

    @property
    def change(self) -> Decimal:
        return self.candidate_total - self.current_total


def _by_key(ratings: Iterable[CustomerRating]) -> tuple[dict[tuple, RatedInvoice], dict[int, str]]:
    rated: dict[tuple, RatedInvoice] = {}
    errors: dict[int, str] = {}
    for rating in ratings:
        if rating.error is not None:
            errors[rating.customer_id] = rating.error
        for invoice in rating.invoices:
            t = invoice.target
            rated[(t.contract_id, t.period.start)] = invoice
    return rated, errors


def compare(
    *, candidate: Sequence[CustomerRating], current: Sequence[CustomerRating],
    invoiced: Mapping[tuple[int, dt.date], Invoiced],
    provider_cost: Mapping[tuple[int, Period], Decimal],
) -> tuple[list[Row], dict[int, str]]:
    """Rows in the candidate's order, and the customers either rating failed for (their
    rows are left out: a customer's periods hang together)."""
    mine, errors = _by_key(candidate)
    theirs, current_errors = _by_key(current)
    errors.update(current_errors)
    rows = []
    for key, rated in mine.items():
        target = rated.target
        if target.customer_id in errors:
            continue
        saved = invoiced.get(key)
        if saved is not None:
            current_total, version_id = saved.total, saved.version_id
        else:
            own = theirs[key]
            current_total, version_id = own.total, own.target.version_id
        rows.append(Row(
            customer_id=target.customer_id, contract_id=target.contract_id,
            period=target.period, currency=rated.currency, current_version_id=version_id,
            invoiced=saved is not None, current_total=current_total,
            candidate_total=rated.total,
            provider_cost=provider_cost.get((target.customer_id, target.period), ZERO),
            billed_seats=rated.rated.billed_seats,
        ))
    return rows, errors


# --- The summary ---------------------------------------------------------------------------


class Totals:
    """What follows from a current total, a candidate total and the provider cost, for
    anything that has the three (a customer's change, the summary, a migration's effect)."""

    current_total: Decimal
    candidate_total: Decimal
    provider_cost: Decimal

    @property
    def change(self) -> Decimal:
        return self.candidate_total - self.current_total

    @property
    def margin_before(self) -> Decimal:
        return self.current_total - self.provider_cost

    @property
    def margin_after(self) -> Decimal:
        return self.candidate_total - self.provider_cost

    @property
    def margin_change(self) -> Decimal:
        return self.margin_after - self.margin_before

    @property
    def margin_rate_before(self) -> Decimal | None:
        return margin_rate(self.current_total, self.provider_cost)

    @property
    def margin_rate_after(self) -> Decimal | None:
        return margin_rate(self.candidate_total, self.provider_cost)


@dataclass(frozen=True)
class CustomerChange(Totals):
    customer: str  # external id
    current_total: Decimal
    candidate_total: Decimal
    provider_cost: Decimal


@dataclass(frozen=True)
class Summary(Totals):
    current_total: Decimal
    candidate_total: Decimal
    provider_cost: Decimal
    customers: int
    customers_paying_more: int
    customers_paying_less: int
    customers_unchanged: int
    biggest_winners: tuple[CustomerChange, ...]  # paying the most less, most first
    biggest_losers: tuple[CustomerChange, ...]  # paying the most more, most first


def margin_rate(total: Decimal, cost: Decimal) -> Decimal | None:
    """Gross margin as a share of the total, to 4 places; None when nothing is billed."""
    if not total:
        return None
    return ((total - cost) / total).quantize(Decimal("0.0001"))


def summarize(customers: Sequence[CustomerChange], *, top: int = 5) -> Summary:
    """``customers``: each customer's totals over its periods."""
    more = [c for c in customers if c.change > 0]
    less = [c for c in customers if c.change < 0]
    return Summary(
        current_total=sum((c.current_total for c in customers), ZERO),
        candidate_total=sum((c.candidate_total for c in customers), ZERO),
        provider_cost=sum((c.provider_cost for c in customers), ZERO),
        customers=len(customers),
        customers_paying_more=len(more),
        customers_paying_less=len(less),
        customers_unchanged=len(customers) - len(more) - len(less),
        biggest_winners=tuple(sorted(less, key=lambda c: (c.change, c.customer))[:top]),
        biggest_losers=tuple(sorted(more, key=lambda c: (-c.change, c.customer))[:top]),
    )
