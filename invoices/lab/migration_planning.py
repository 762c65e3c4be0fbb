"""Migration planning: choose contracts and a target version, see each customer's effect,
then schedule every migration with notice (SPEC 3) in one action, or leave the contracts
grandfathered until renewal.

- **Choosing.** Active contracts on a plan, optionally only those on one version today
  (the version in force, migrations included) and/or of listed customers. Contracts have
  no segment field, so a segment is a customer list.
- **Effect.** Per customer, from the latest finished backtest of the target version
  (``lab.BacktestResult``: its periods' current and candidate totals and provider cost);
  for a customer that backtest did not cover, or when there is none, from rating its
  last ended period on the target and on its own version now, with the backtest's own
  load and comparison (``invoices.lab.backtest_load``, ``invoices.lab.backtest``).
- **When.** A migration takes effect at the first period start of the contract at least
  ``notice_days`` after today (``effective_date``, pure); a contract whose term ends
  before that is left to renew, as is one already on the target then.
- **Scheduling** goes through ``plans.services.contract_schedule_migration`` for each
  contract, all in one transaction: every planned migration is scheduled, or none.
- **Grandfathering** keeps each contract's version for its term and sets ``renewal`` to
  ``latest`` (``contract_update``), so it renews onto the plan's current version:
  publish the target (effective by then) to make it that. Evergreen contracts never
  renew and keep their version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Customer
from invoices.lab.backtest import Totals, compare, split_work
from invoices.lab.backtest_load import load_backtest
from invoices.lab.backtest_selectors import customer_changes
from invoices.lab.models import Backtest
from invoices.rating.drafts import rate_work
from invoices.rating.planning import cutoff_day
from plans.models import Contract, ContractMigration, Plan, PlanVersion
from plans.models.contracts import DEFAULT_NOTICE_DAYS
from plans.periods import periods_between
from plans.selectors import contract_version_at
from plans.services import contract_schedule_migration, contract_update

ONE_DAY = dt.timedelta(days=1)
ZERO = Decimal(0)

MIGRATE = "migrate"
AT_RENEWAL = "at_renewal"  # the term ends before the earliest effective date
ALREADY = "already"  # on the target then, or a migration to it is scheduled


# --- pure: when ------------------------------------------------------------------------


def effective_date(*, anchor: dt.date, interval: str, start: dt.date, end_date: dt.date | None,
                   today: dt.date, notice_days: int) -> dt.date | None:
    """The first period start after the contract's start that is at least ``notice_days``
    after ``today``; None when the term ends before it (SPEC 3)."""
    earliest = max(today + dt.timedelta(days=notice_days), start + ONE_DAY)
    first = next(iter(periods_between(anchor, interval, earliest, None))).start
    if end_date is not None and first > end_date:
        return None
    return first


@dataclass(frozen=True)
class Step:
    contract_id: int
    customer: str  # external id
    version: str  # in force today, as "team v1"
    action: str  # MIGRATE, AT_RENEWAL or ALREADY
    effective_date: dt.date | None  # for MIGRATE
    renews_on: dt.date | None  # the day after the term's end, if it has one
    note: str


# --- choosing --------------------------------------------------------------------------


def chosen_contracts(*, plan: Plan, today: dt.date, version: int | None = None,
                     customers: Sequence[str] = ()) -> list[Contract]:
    """Active contracts on ``plan`` (pinned to one of its versions), on version number
    ``version`` today if given, of ``customers`` if listed; by customer."""
    contracts = (Contract.objects.filter(status=Contract.Status.ACTIVE, plan_version__plan=plan)
                 .select_related("customer", "plan_version__plan")
                 .prefetch_related("migrations__plan_version__plan")
                 .order_by("customer__external_id", "pk"))
    if customers:
        known = set(Customer.objects.filter(external_id__in=list(customers))
                    .values_list("external_id", flat=True))
        if missing := [c for c in customers if c not in known]:
            raise ValidationError({"customers": [f"Unknown customers: {', '.join(missing[:20])}."]})
        contracts = contracts.filter(customer__external_id__in=list(customers))
    found = list(contracts)
    if version is not None:
        found = [c for c in found if contract_version_at(contract=c, day=today).version == version
                 and contract_version_at(contract=c, day=today).plan_id == plan.pk]
    return found


def plan_steps(contracts: Iterable[Contract], *, target: PlanVersion, today: dt.date,
               notice_days: int = DEFAULT_NOTICE_DAYS) -> list[Step]:
    """What scheduling would do for each contract."""
    steps = []
    for contract in contracts:
        now_on = contract_version_at(contract=contract, day=today)
        label = f"{now_on.plan.code} v{now_on.version}"
        renews = contract.end_date + ONE_DAY if contract.end_date is not None else None
        when = effective_date(anchor=contract.anchor_date,
                              interval=contract.plan_version.billing_interval,
                              start=contract.start_date, end_date=contract.end_date,
                              today=today, notice_days=notice_days)
        pending = [m for m in contract.migrations.all()
                   if m.status == ContractMigration.Status.SCHEDULED and m.effective_date > today]
        if any(m.plan_version_id == target.pk for m in pending):
            step = Step(contract.pk, contract.customer.external_id, label, ALREADY, None, renews,
                        "A migration to the target is already scheduled.")
        elif when is None:
            step = Step(contract.pk, contract.customer.external_id, label, AT_RENEWAL, None,
                        renews, f"The term ends {contract.end_date.isoformat()}, before "
                                f"{notice_days} days' notice runs out: decide at renewal.")
        elif contract_version_at(contract=contract, day=when).pk == target.pk:
            step = Step(contract.pk, contract.customer.external_id, label, ALREADY, None, renews,
                        f"Already on {target.plan.code} v{target.version} then.")
        else:
            step = Step(contract.pk, contract.customer.external_id, label, MIGRATE, when, renews,
                        f"Moves on {when.isoformat()} ({notice_days} days' notice).")
        steps.append(step)
    return steps


# --- the effect ------------------------------------------------------------------------


@dataclass(frozen=True)
class Effect(Totals):
    customer: str
    periods: int
    current_total: Decimal
    candidate_total: Decimal
    provider_cost: Decimal
    source: str  # "backtest" or "last period"


def latest_backtest(*, target: PlanVersion) -> Backtest | None:
    return (Backtest.objects.filter(plan_version=target, status=Backtest.Status.DONE)
            .order_by("-finished_at", "-created_at").first())


def backtest_effects(backtest: Backtest) -> dict[str, Effect]:
    periods = {}
    for row in backtest.results.values("customer__external_id").order_by():
        name = row["customer__external_id"]
        periods[name] = periods.get(name, 0) + 1
    return {c.customer: Effect(c.customer, periods.get(c.customer, 0), c.current_total,
                               c.candidate_total, c.provider_cost, "backtest")
            for c in customer_changes(backtest=backtest)}


def last_period_effects(contracts: Sequence[Contract], *, target: PlanVersion,
                        now: dt.datetime) -> dict[str, Effect]:
    """Each customer's last ended period rated on the target and as invoiced (or on its
    own version): a one-period backtest, computed now and not stored."""
    if not contracts:
        return {}
    plan_id = contracts[0].plan_version.plan_id
    customer_ids = sorted({c.customer_id for c in contracts})
    load = load_backtest(plan_id=plan_id, candidate_id=target.pk, customer_ids=customer_ids,
                         until=cutoff_day(now), periods=1)
    candidate, current = split_work(load.work, load.plan)
    rows, _errors = compare(candidate=rate_work(candidate), current=rate_work(current),
                            invoiced=load.invoiced, provider_cost=load.provider_cost)
    names = {c.customer_id: c.customer.external_id for c in contracts}
    effects: dict[str, Effect] = {}
    for row in rows:
        name = names[row.customer_id]
        before = effects.get(name)
        effects[name] = Effect(
            name, (before.periods if before else 0) + 1,
            (before.current_total if before else ZERO) + row.current_total,
            (before.candidate_total if before else ZERO) + row.candidate_total,
            (before.provider_cost if before else ZERO) + row.provider_cost, "last period")
    return effects


def effects(contracts: Sequence[Contract], *, target: PlanVersion, now: dt.datetime,
            backtest: Backtest | None = None) -> tuple[dict[str, Effect], Backtest | None]:
    """The effect per customer: from ``backtest`` (default the latest finished one of the
    target), the others from their last ended period; and the backtest used."""
    backtest = backtest if backtest is not None else latest_backtest(target=target)
    found = backtest_effects(backtest) if backtest is not None else {}
    wanted = {c.customer.external_id for c in contracts}
    found = {name: e for name, e in found.items() if name in wanted}
    missing = [c for c in contracts if c.customer.external_id not in found]
    found.update(last_period_effects(missing, target=target, now=now))
    return found, backtest


# --- the one action --------------------------------------------------------------------


@transaction.atomic
def schedule_migrations(*, contracts: Sequence[Contract], target: PlanVersion,
                        today: dt.date, notice_days: int = DEFAULT_NOTICE_DAYS,
                        ) -> list[ContractMigration]:
    """Schedule every planned migration of ``contracts`` to ``target`` with notice, in one
    transaction: all of them or, when the service refuses one, none (the error names
    the customer)."""
    by_id = {c.pk: c for c in contracts}
    scheduled = []
    for step in plan_steps(contracts, target=target, today=today, notice_days=notice_days):
        if step.action != MIGRATE:
            continue
        try:
            scheduled.append(contract_schedule_migration(
                contract=by_id[step.contract_id], plan_version=target,
                effective_date=step.effective_date, today=today, notice_days=notice_days))
        except ValidationError as error:
            raise ValidationError({"contracts": [
                f"{step.customer}: {' '.join(error.messages)} Nothing was scheduled."]}) from None
    return scheduled


@transaction.atomic
def grandfather_until_renewal(*, contracts: Sequence[Contract]) -> list[Contract]:
    """Leave each contract on its version for its term, renewing onto the plan's current
    version (``renewal: latest``); evergreen contracts and those that do not renew
    automatically are left as they are. Returns the contracts changed."""
    changed = []
    for contract in contracts:
        if contract.end_date is None or not contract.auto_renew:
            continue
        if contract.renewal != Contract.Renewal.LATEST:
            changed.append(contract_update(contract=contract, renewal=Contract.Renewal.LATEST))
    return changed


def effect_totals(found: Mapping[str, Effect]) -> dict[str, Decimal | int]:
    current = sum((e.current_total for e in found.values()), ZERO)
    candidate = sum((e.candidate_total for e in found.values()), ZERO)
    cost = sum((e.provider_cost for e in found.values()), ZERO)
    return {"current_total": current, "candidate_total": candidate, "provider_cost": cost,
            "change": candidate - current,
            "paying_more": sum(1 for e in found.values() if e.change > 0),
            "paying_less": sum(1 for e in found.values() if e.change < 0)}
