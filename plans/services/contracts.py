"""Writes for contracts: creation, changes, scheduled migrations and renewal."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import Customer
from common.bounds import MAX_NOTICE_DAYS, MAX_SEATS, check_count, check_in_range
from plans.models import Contract, ContractMigration, PlanVersion
from plans.models.contracts import DEFAULT_NOTICE_DAYS
from plans.periods import MONTH, add_months, is_period_start, period_index_containing
from plans.selectors import contract_version_at, plan_current_version
from plans.services.events import (
    publish_contract_renewed,
    publish_migration_canceled,
    publish_migration_scheduled,
)

logger = logging.getLogger(__name__)

OVERRIDE_FIELDS = (
    "seat_price", "base_fee", "included_per_seat", "discount_percent", "overage_cap",
    "minimum_commitment",
)
UPDATABLE_FIELDS = {"end_date", "auto_renew", "renewal", "committed_seats", *OVERRIDE_FIELDS}
ONE_DAY = dt.timedelta(days=1)


def _validate_term(*, anchor: dt.date, interval: str, start: dt.date, end: dt.date | None) -> None:
    if end is None:
        return
    if end <= start:
        raise ValidationError({"end_date": ["end_date must be after start_date."]})
    if not is_period_start(anchor, interval, end + ONE_DAY):
        raise ValidationError({"end_date": [
            "end_date must be the last day of a billing period (the day before a period start)."
        ]})


def _validate_version_for(customer: Customer, version: PlanVersion, field: str = "plan_version") -> None:
    if not version.is_published:
        raise ValidationError({field: [f"{version} is a draft; publish it first."]})
    if version.currency != customer.currency:
        raise ValidationError({field: [
            f"{version} is priced in {version.currency} but {customer.external_id} is billed "
            f"in {customer.currency}."
        ]})


def _integrity_to_validation(error: IntegrityError) -> ValidationError:
    text = str(error)
    if "contract_one_active_per_customer" in text or "customer_id" in text:
        return ValidationError({"customer": ["This customer already has an active contract."]})
    if "contract_end_after_start" in text:
        return ValidationError({"end_date": ["end_date must be after start_date."]})
    return ValidationError({"non_field_errors": ["The contract conflicts with another one."]})


@transaction.atomic
def contract_create(*, customer: Customer, plan_version: PlanVersion, start_date: dt.date,
                    end_date: dt.date | None = None, auto_renew: bool = True,
                    renewal: str = Contract.Renewal.GRANDFATHER, committed_seats: int = 0,
                    **overrides: Any) -> Contract:
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    if customer.archived:
        raise ValidationError({"customer": [f"{customer.external_id} is archived."]})
    check_in_range(start_date=start_date, end_date=end_date)
    check_count("committed_seats", committed_seats, minimum=0, maximum=MAX_SEATS)
    _validate_version_for(customer, plan_version)
    _validate_term(anchor=start_date, interval=plan_version.billing_interval,
                   start=start_date, end=end_date)
    contract = Contract(customer=customer, plan_version=plan_version, start_date=start_date,
                        end_date=end_date, anchor_date=start_date, auto_renew=auto_renew,
                        renewal=renewal, committed_seats=committed_seats, **overrides)
    contract.full_clean(validate_constraints=False, validate_unique=False)
    try:
        # The partial unique index decides between concurrent creates, not a prior query.
        with transaction.atomic():
            contract.save()
    except IntegrityError as error:
        raise _integrity_to_validation(error) from None
    return contract


@transaction.atomic
def contract_update(*, contract: Contract, **changes: Any) -> Contract:
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed; schedule a migration to "
                                      "change the plan version."] if name == "plan_version"
                               else ["This field cannot be changed."] for name in unknown})
    contract = Contract.objects.select_for_update().select_related("plan_version").get(pk=contract.pk)
    if contract.status != Contract.Status.ACTIVE:
        raise ValidationError({"status": [f"The contract is {contract.status}; it cannot change."]})
    check_in_range(end_date=changes.get("end_date"))
    check_count("committed_seats", changes.get("committed_seats"), minimum=0, maximum=MAX_SEATS)
    for name, value in changes.items():
        setattr(contract, name, value)
    if "end_date" in changes:
        _validate_term(anchor=contract.anchor_date, interval=contract.plan_version.billing_interval,
                       start=contract.start_date, end=contract.end_date)
        late = contract.migrations.filter(status=ContractMigration.Status.SCHEDULED)
        if contract.end_date is not None and late.filter(effective_date__gt=contract.end_date).exists():
            raise ValidationError({"end_date": ["A migration is scheduled after this end_date."]})
    contract.full_clean(validate_constraints=False, validate_unique=False)
    contract.save()
    return contract


@transaction.atomic
def contract_schedule_migration(*, contract: Contract, plan_version: PlanVersion,
                                effective_date: dt.date, today: dt.date,
                                notice_days: int = DEFAULT_NOTICE_DAYS) -> ContractMigration:
    """Schedule a move to ``plan_version`` from a period start at least ``notice_days`` away."""
    contract = (
        Contract.objects.select_for_update().select_related("customer", "plan_version")
        .get(pk=contract.pk)
    )
    if contract.status != Contract.Status.ACTIVE:
        raise ValidationError({"contract": [f"The contract is {contract.status}."]})
    check_count("notice_days", notice_days, minimum=0, maximum=MAX_NOTICE_DAYS)
    check_in_range(effective_date=effective_date)
    _validate_version_for(contract.customer, plan_version)
    current = contract_version_at(contract=contract, day=effective_date)
    if plan_version.billing_interval != current.billing_interval:
        raise ValidationError({"plan_version": [
            f"{plan_version} bills per {plan_version.billing_interval} but the contract bills per "
            f"{current.billing_interval}; start a new contract to change the interval."
        ]})
    if plan_version.pk == current.pk:
        raise ValidationError({"plan_version": [f"The contract is already on {plan_version} then."]})
    earliest = today + dt.timedelta(days=notice_days)
    if effective_date < earliest:
        raise ValidationError({"effective_date": [
            f"With {notice_days} days' notice from {today.isoformat()}, the earliest effective "
            f"date is {earliest.isoformat()}."
        ]})
    if effective_date <= contract.start_date or not is_period_start(
        contract.anchor_date, current.billing_interval, effective_date
    ):
        raise ValidationError({"effective_date": ["effective_date must be a later period start "
                                                  "of the contract."]})
    if contract.end_date is not None and effective_date > contract.end_date:
        raise ValidationError({"effective_date": ["effective_date is after the contract's end."]})
    try:
        with transaction.atomic():
            migration = ContractMigration.objects.create(
                contract=contract, plan_version=plan_version, effective_date=effective_date,
                notice_days=notice_days, scheduled_on=today,
            )
            publish_migration_scheduled(migration=migration, current=current, today=today)
            return migration
    except IntegrityError:
        raise ValidationError(
            {"effective_date": ["A migration is already scheduled for that date."]}
        ) from None


class MigrationInEffectError(ValidationError):
    """The migration's effective date has come: the periods from it are billed on it."""

    def __init__(self, migration: ContractMigration):
        super().__init__({"effective_date": [
            f"The migration took effect on {migration.effective_date.isoformat()}; its periods "
            "are billed on it. Schedule a migration back instead."
        ]})


@transaction.atomic
def contract_cancel_migration(*, migration: ContractMigration, today: dt.date) -> ContractMigration:
    """Cancel a migration that has not taken effect; canceling it again changes nothing.

    The vendor's systems heard ``migration.scheduled``, so they hear ``migration.canceled``
    too, once (the event id is the migration's).
    """
    migration = (
        ContractMigration.objects.select_for_update(of=("self",))
        .select_related("contract__customer", "plan_version__plan")
        .get(pk=migration.pk)
    )
    if migration.status == ContractMigration.Status.CANCELED:
        return migration
    if migration.effective_date <= today:
        raise MigrationInEffectError(migration)
    migration.status = ContractMigration.Status.CANCELED
    migration.save(update_fields=["status"])
    publish_migration_canceled(migration=migration, today=today)
    return migration


def _term_months(contract: Contract) -> int:
    end_exclusive = contract.end_date + ONE_DAY
    return period_index_containing(contract.anchor_date, MONTH, end_exclusive) - (
        period_index_containing(contract.anchor_date, MONTH, contract.start_date)
    )


def _renewal_version(contract: Contract, today: dt.date) -> PlanVersion:
    pinned = contract_version_at(contract=contract, day=contract.end_date)
    if contract.renewal != Contract.Renewal.LATEST:
        return pinned
    latest = plan_current_version(plan=pinned.plan, today=today, currency=contract.customer.currency)
    if latest is None or latest.billing_interval != pinned.billing_interval:
        logger.warning("contract %s: no current version fits, renewing on %s", contract.pk, pinned)
        return pinned
    return latest


def _renew_one(contract_id: int, today: dt.date, now: dt.datetime) -> Contract | None:
    with transaction.atomic():
        contract = (
            Contract.objects.select_for_update()
            .select_related("customer", "plan_version__plan")
            .filter(pk=contract_id, status=Contract.Status.ACTIVE, end_date__lt=today)
            .first()
        )
        if contract is None:  # another run got here first
            return None
        contract.status = Contract.Status.ENDED
        contract.save(update_fields=["status", "updated_at"])
        if not contract.auto_renew:
            return None
        start = contract.end_date + ONE_DAY
        months = _term_months(contract)
        start_index = period_index_containing(contract.anchor_date, MONTH, start)
        end = add_months(contract.anchor_date, start_index + months) - ONE_DAY
        overrides = {name: getattr(contract, name) for name in OVERRIDE_FIELDS}
        renewed = Contract.objects.create(
            customer=contract.customer, plan_version=_renewal_version(contract, today),
            start_date=start, end_date=end, anchor_date=contract.anchor_date,
            auto_renew=True, renewal=contract.renewal, committed_seats=contract.committed_seats,
            renewed_from=contract, **overrides,
        )
        publish_contract_renewed(renewed=renewed, now=now)  # outbound webhook, on commit
        return renewed


def contract_renew_due(*, now: dt.datetime,
                       contract_ids: list[int] | None = None) -> list[Contract]:
    """End every active contract whose term is over; renew the auto-renewing ones.

    Idempotent: each contract is locked and re-checked, and ``renewed_from`` is unique,
    so running twice (or twice at once) renews once. A term ending on day D renews once
    D is over in UTC. ``contract_ids`` limits the run to those contracts (admin action).
    """
    today = now.astimezone(dt.UTC).date()
    due = Contract.objects.filter(status=Contract.Status.ACTIVE, end_date__lt=today)
    if contract_ids is not None:
        due = due.filter(pk__in=contract_ids)
    renewed = []
    for contract_id in due.values_list("pk", flat=True):
        try:
            new = _renew_one(contract_id, today, now)
        except IntegrityError:
            logger.info("contract %s was renewed concurrently", contract_id)
            continue
        if new is not None:
            renewed.append(new)
    return renewed
