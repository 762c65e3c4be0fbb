"""Loading a backtest: the billing run's own loader, for every chosen customer × period at
once (per chunk of customers, like a run), plus what the run does not need: the periods'
invoice totals and their provider cost. Nothing here writes; nothing here rates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from invoices.lab.backtest import Invoiced, Plan, backtest_periods, plan_backtest
from invoices.models import Invoice
from invoices.rating.books import PriceBook
from invoices.rating.drafts import Work
from invoices.rating.planning import period_moments
from invoices.selectors.billing_load import (
    BILLABLE_CONTRACTS,
    customer_filter,
    fetch_values,
    load_contracts,
    load_unbilled,
)
from invoices.selectors.usage import WindowScans
from plans.models import Contract
from plans.periods import Period
from usage.selectors import provider_cost_many


@dataclass(frozen=True)
class BacktestLoad:
    work: Work  # candidate and own-version targets together (split by the plan)
    plan: Plan
    invoiced: dict[tuple[int, dt.date], Invoiced]  # (contract id, period start) → invoice
    provider_cost: dict[tuple[int, Period], Decimal]  # (customer id, period) → cost


def plan_customer_ids(*, plan_id: int, customer_ids: Sequence[int] | None = None) -> list[int]:
    """Customers with a billable contract on the plan (among ``customer_ids``), sorted."""
    contracts = Contract.objects.filter(plan_version__plan_id=plan_id,
                                        status__in=BILLABLE_CONTRACTS)
    if customer_ids is not None:
        contracts = contracts.filter(customer_id__in=list(customer_ids))
    return sorted(set(contracts.values_list("customer_id", flat=True)))


def load_backtest(
    *, plan_id: int, candidate_id: int, customer_ids: Sequence[int], until: dt.date,
    periods: int, books: MutableMapping[int, PriceBook] | None = None,
    scans: WindowScans | None = None, costs: ProviderCosts | None = None,
) -> BacktestLoad:
    """The work of backtesting some customers (sorted ids): their contracts on the plan,
    the latest ``periods`` periods of each ended by ``until``, on the candidate and (those
    without an invoice) on their own version."""
    wanted = set(customer_ids)
    contracts = [
        c for c in load_contracts(where=customer_filter(customer_ids)
                                  & Q(plan_version__plan_id=plan_id,
                                      status__in=BILLABLE_CONTRACTS))
        if c.customer_id in wanted
    ]
    chosen = backtest_periods(contracts, until=until, periods=periods)
    invoiced = _invoiced(customer_ids, {c.contract_id for c in contracts})
    plan = plan_backtest(chosen, candidate_id=candidate_id, invoiced=invoiced)
    work = load_unbilled(targets=(*plan.candidate, *plan.current), contracts=contracts,
                         books=books, scans=scans)
    costs = costs or ProviderCosts(customer_ids=customer_ids)
    return BacktestLoad(work, plan, invoiced, costs.of(plan))


def _invoiced(customer_ids: Sequence[int], contract_ids: set[int]) -> dict:
    if not contract_ids:
        return {}
    rows = fetch_values(
        Invoice.objects.filter(customer_filter(customer_ids))
        .exclude(status=Invoice.Status.VOID).order_by()
        .values_list("contract_id", "period_start", "total", "plan_version_id")
    )
    return {
        (contract_id, start.astimezone(dt.UTC).date()): Invoiced(total, version_id)
        for contract_id, start, total, version_id in rows if contract_id in contract_ids
    }


class ProviderCosts:
    """Provider cost per customer-period, read for every customer of a backtest at once
    (like the run's window scans): the first chunk that needs a period reads it for all
    of them; the others find it here."""

    def __init__(self, *, customer_ids: Sequence[int]) -> None:
        self.customer_ids = sorted(customer_ids)
        self.periods: set[Period] = set()
        self.costs: dict[tuple[int, Period], Decimal] = {}

    def of(self, plan: Plan) -> dict[tuple[int, Period], Decimal]:
        missing = sorted({t.period for t in plan.candidate} - self.periods,
                         key=lambda p: p.start)
        if missing:
            windows = [period_moments(p) for p in missing]
            for (customer_id, n), cost in provider_cost_many(
                    customer_ids=self.customer_ids, windows=windows).items():
                self.costs[(customer_id, missing[n])] = cost
            self.periods.update(missing)
        return self.costs
