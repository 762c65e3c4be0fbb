"""Reads over plans and contracts shared by the API, the admin, billing and the pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from accounts.models import Customer
from plans.models import Charge, Contract, ContractMigration, Metric, Plan, PlanVersion
from plans.periods import Period, period_containing


def customer_has_contracts(*, customer: Customer) -> bool:
    return Contract.objects.filter(customer=customer).exists()


def customer_currency_lock(customer: Customer) -> str | None:
    """Why the customer's currency is fixed, or None: a contract's prices are in it.
    Registered with ``accounts.services.register_currency_lock`` (plans/apps.py)."""
    if customer_has_contracts(customer=customer):
        return "The currency cannot change once the customer has a contract."
    return None


def current_version_among(versions: Iterable[PlanVersion], *, today: dt.date) -> PlanVersion | None:
    """The latest published version whose ``effective_from`` is not after today, among
    ``versions`` (e.g. ``plan_list``'s prefetch: no query per plan)."""
    in_force = [v for v in versions if v.is_published and v.effective_from <= today]
    return max(in_force, key=lambda v: (v.effective_from, v.version), default=None)


def plan_current_version(*, plan: Plan, today: dt.date, currency: str | None = None) -> PlanVersion | None:
    """``current_version_among`` the plan's versions (in ``currency`` when given), read now."""
    versions = PlanVersion.objects.published().filter(plan=plan, effective_from__lte=today)
    if currency is not None:
        versions = versions.filter(currency=currency)
    return current_version_among(versions, today=today)


def contract_scheduled_migrations(*, contract: Contract) -> list[ContractMigration]:
    return sorted(
        (m for m in contract.migrations.all() if m.status == ContractMigration.Status.SCHEDULED),
        key=lambda m: m.effective_date,
    )


def contract_version_at(*, contract: Contract, day: dt.date) -> PlanVersion:
    """The version in force on ``day``: the latest migration effective by then, else the pin."""
    version = contract.plan_version
    for migration in contract_scheduled_migrations(contract=contract):
        if migration.effective_date <= day:
            version = migration.plan_version
    return version


def contract_pending_migrations(*, contract: Contract, today: dt.date) -> list[ContractMigration]:
    return [m for m in contract_scheduled_migrations(contract=contract) if m.effective_date > today]


def contract_interval(*, contract: Contract) -> str:
    return contract.plan_version.billing_interval


def contract_period_containing(*, contract: Contract, day: dt.date) -> Period:
    return period_containing(contract.anchor_date, contract_interval(contract=contract), day)


def contract_list(*, customer: Customer | None = None, status: str | None = None) -> QuerySet[Contract]:
    contracts = Contract.objects.select_related("customer", "plan_version__plan").prefetch_related(
        Prefetch("migrations", queryset=ContractMigration.objects.select_related("plan_version__plan"))
    )
    if customer is not None:
        contracts = contracts.filter(customer=customer)
    if status is not None:
        contracts = contracts.filter(status=status)
    return contracts


def metric_list() -> QuerySet[Metric]:
    return Metric.objects.all()


def metric_get(*, code: str) -> Metric | None:
    return Metric.objects.filter(code=code).first()


def plan_list() -> QuerySet[Plan]:
    """Plans with their versions loaded (two queries however many): the version summaries
    and ``current_version_among`` read them."""
    return Plan.objects.prefetch_related(
        Prefetch("versions", queryset=PlanVersion.objects.order_by("version")))


def plan_get(*, code: str) -> Plan | None:
    return plan_list().filter(code=code).first()


def plan_versions_with_charges(*, plan: Plan) -> QuerySet[PlanVersion]:
    charges = Charge.objects.select_related("metric").prefetch_related("tiers")
    return (
        PlanVersion.objects.filter(plan=plan).select_related("plan")
        .prefetch_related(Prefetch("charges", queryset=charges))
        .order_by("version")
    )


def plan_version_get(*, plan: Plan, version: int) -> PlanVersion | None:
    """The version numbered ``version`` of ``plan``, with its charges and tiers."""
    return plan_versions_with_charges(plan=plan).filter(version=version).first()


def contract_get(*, contract_id: int) -> Contract | None:
    return contract_list().filter(pk=contract_id).first()


def contract_migration_get(*, contract_id: int, migration_id: int) -> ContractMigration | None:
    """One migration of one contract (another contract's id is not found here)."""
    return (
        ContractMigration.objects.filter(contract_id=contract_id, pk=migration_id)
        .select_related("contract__customer", "plan_version__plan").first()
    )


def metric_published_versions(*, metric: Metric) -> QuerySet[PlanVersion]:
    """Published versions that price ``metric``; while any exists, its definition is fixed."""
    return (
        PlanVersion.objects.published().filter(charges__metric=metric)
        .select_related("plan").distinct().order_by("plan__code", "version")
    )


def contracts_ending_between(*, start: dt.date, end: dt.date) -> QuerySet[Contract]:
    """Active contracts whose term's last day falls in ``[start, end]`` (renewal desk)."""
    return contract_list(status=Contract.Status.ACTIVE).filter(
        end_date__gte=start, end_date__lte=end
    )


def contracts_due_for_renewal(*, today: dt.date) -> QuerySet[Contract]:
    """Active contracts whose term ended before ``today``: the renewal job's work list."""
    return contract_list(status=Contract.Status.ACTIVE).filter(end_date__lt=today)
