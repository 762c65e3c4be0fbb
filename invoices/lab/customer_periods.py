"""The customer-periods of a plan: the sample archetypes and recommendations are taken over.

A customer-period is one ended contract period rated on a version of the plan (the
version in force at its start, SPEC 3). Per customer-period the lab needs:

- its **billed seats**, SPEC 2 step 1: the billing run's own load
  (``invoices.selectors.billing_load``: contracts with their overrides and migrations,
  seat history) and engine (``invoices.rating``) give them, so they are exactly what the
  period's invoice bills, committed seats included;
- every metric's value in the period, from usage's batched read (one call per window);
- the provider cost of its events, likewise one read per window.

Nothing is written. The periods are the ones a backtest of the plan re-rates
(``invoices.lab.backtest.backtest_periods``: each customer's latest ``periods`` ended
periods over its contracts pinned to the plan), so archetypes, recommendations and
backtests describe the same customer-periods; those rated on a version in another
currency than the plan's current one are left out (provider cost is not converted).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from accounts.models import Customer
from invoices.lab.backtest import backtest_periods
from invoices.lab.pricing import CustomerPeriod, Sample
from invoices.rating.drafts import rate_work
from invoices.rating.planning import ContractTerms, Target, cutoff_day
from invoices.selectors.billing_load import BILLABLE_CONTRACTS, load_contracts, load_unbilled
from plans.models import Metric, Plan, PlanVersion
from plans.periods import Period
from plans.selectors import plan_current_version
from usage.selectors import ChargeUsage, charge_usage_many, provider_cost_many

MAX_PERIODS = 36  # three years of monthly periods
ZERO_COST = Decimal(0)


class NoPriceBook(ValueError):
    """The plan has no published version in effect: nothing to price against."""


def plan_currency(*, plan: Plan, today: dt.date) -> str:
    """The currency of the plan's current version (or of its latest, before any is in
    effect): the lab's prices and costs are in it."""
    version = plan_current_version(plan=plan, today=today)
    if version is None:
        version = plan.versions.order_by("-version").first()
    if version is None:
        raise NoPriceBook(f"Plan {plan.code!r} has no version yet.")
    return version.currency


def plan_contracts(*, plan: Plan) -> list[ContractTerms]:
    """Billable contracts pinned to a version of ``plan``, as a backtest chooses them."""
    return load_contracts(where=Q(plan_version__plan=plan, status__in=BILLABLE_CONTRACTS))


def last_ended_targets(contracts: Sequence[ContractTerms], *, version_ids: set[int],
                       periods: int, until: dt.date) -> list[Target]:
    """The backtest's periods (each customer's latest ``periods`` ended by ``until``, over
    its contracts), those rated on one of ``version_ids`` (the plan's, in its currency)."""
    targets = []
    for contract, period in backtest_periods(contracts, until=until, periods=periods):
        version_id = contract.version_for(period)
        if version_id in version_ids:
            targets.append(Target(contract.customer_id, contract.contract_id, period,
                                  version_id))
    targets.sort(key=lambda t: t.sort_key)
    return targets


@dataclass(frozen=True)
class Book:
    """A plan's customer-periods, ready for the pure lab functions."""

    plan: Plan
    currency: str
    periods: int
    sample: Sample
    latest_period: Period | None  # the most recent period of the sample, to rate on


def customer_periods(*, plan: Plan, periods: int, now: dt.datetime,
                     metrics: Sequence[Metric] | None = None) -> Book:
    """The customer-periods of ``plan`` over each contract's last ``periods`` ended
    periods (by ``now``), with every metric (or ``metrics``) measured."""
    if not 1 <= periods <= MAX_PERIODS:
        raise ValueError(f"periods must be from 1 to {MAX_PERIODS}")
    today = now.astimezone(dt.UTC).date()
    currency = plan_currency(plan=plan, today=today)
    metrics = list(Metric.objects.order_by("code") if metrics is None else metrics)
    codes = [m.code for m in metrics]
    versions = {pk for pk, in PlanVersion.objects.filter(plan=plan, currency=currency)
                .values_list("pk")}
    contracts = plan_contracts(plan=plan)
    targets = last_ended_targets(contracts, version_ids=versions, periods=periods,
                                 until=cutoff_day(now))
    if not targets:
        return Book(plan, currency, periods, Sample.of((), metrics=codes, currency=currency),
                    None)
    work = load_unbilled(targets=targets, contracts=contracts)
    billed = {}
    for rating in rate_work(work):
        if rating.error is not None:
            raise RuntimeError(f"rating customer {rating.customer_id} failed: {rating.error}")
        for invoice in rating.invoices:
            t = invoice.target
            billed[(t.contract_id, t.period)] = invoice.rated.billed_seats
    usage, cost = _measured(targets, metrics)
    external = dict(Customer.objects.filter(pk__in={t.customer_id for t in targets})
                    .values_list("pk", "external_id"))
    rows = [
        CustomerPeriod(
            customer=external[t.customer_id], contract_id=t.contract_id, period=t.period,
            version_id=t.version_id, billed_seats=billed[(t.contract_id, t.period)],
            provider_cost=cost.get((t.customer_id, t.period), ZERO_COST),
            usage=usage.get((t.customer_id, t.period), {}),
        )
        for t in targets
    ]
    latest = max((t.period for t in targets), key=lambda p: (p.end, p.start))
    return Book(plan, currency, periods, Sample.of(rows, metrics=codes, currency=currency),
                latest)


def _measured(targets: Sequence[Target], metrics: Sequence[Metric],
              ) -> tuple[dict[tuple[int, Period], dict[str, Decimal]], dict[tuple[int, Period], Decimal]]:
    """Metric values and provider cost per (customer, period): one batched read of the
    metrics per window that customers share, one read of provider cost for all."""
    windows: dict[Period, set[int]] = defaultdict(set)
    for t in targets:
        windows[t.period].add(t.customer_id)
    charges = [ChargeUsage(key=m.code, metric=m, filters={}) for m in metrics]
    usage: dict[tuple[int, Period], dict[str, Decimal]] = {}
    for period, customer_ids in windows.items():
        ids = sorted(customer_ids)
        if charges:
            values = charge_usage_many(customer_ids=ids, start=period.start_at,
                                       end=period.end_at, charges=charges)
            for cid in ids:
                usage[(cid, period)] = values[cid]
    periods = list(windows)
    costs = provider_cost_many(customer_ids=sorted({t.customer_id for t in targets}),
                               windows=[(p.start_at, p.end_at) for p in periods])
    cost = {(cid, periods[index]): amount for (cid, index), amount in costs.items()}
    return usage, cost
