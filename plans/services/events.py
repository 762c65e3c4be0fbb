"""The contract events sent to the vendor's own systems (outbound webhooks,
docs/webhooks.md): ``contract.renewed``, ``migration.scheduled`` and ``migration.canceled``.

Published by the contract services inside their transaction; event ids are our row
ids (the new contract, the migration), so a retried job sends each once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.outbound.events import CONTRACT_RENEWED, MIGRATION_CANCELED, MIGRATION_SCHEDULED
from accounts.outbound.publish import outbound_publish
from plans.models import Contract, ContractMigration, PlanVersion
from plans.periods import at_midnight


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _version(version: PlanVersion) -> dict[str, Any]:
    return {"id": version.pk, "plan": version.plan.code, "version": version.version,
            "name": str(version)}


def contract_payload(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.pk, "customer": contract.customer.external_id,
        "plan_version": _version(contract.plan_version), "status": contract.status,
        "start_date": _day(contract.start_date), "end_date": _day(contract.end_date),
        "auto_renew": contract.auto_renew, "renewal": contract.renewal,
        "committed_seats": contract.committed_seats,
    }


def publish_contract_renewed(*, renewed: Contract, now: dt.datetime) -> None:
    outbound_publish(
        event_type=CONTRACT_RENEWED, event_id=f"{CONTRACT_RENEWED}:{renewed.pk}",
        payload={"contract": contract_payload(renewed), "renewed_from": renewed.renewed_from_id},
        now=now,
    )


def _migration(migration: ContractMigration) -> dict[str, Any]:
    contract = migration.contract
    return {
        "id": migration.pk, "contract": contract.pk, "customer": contract.customer.external_id,
        "to_plan_version": _version(migration.plan_version),
        "effective_date": _day(migration.effective_date), "notice_days": migration.notice_days,
        "scheduled_on": _day(migration.scheduled_on), "status": migration.status,
    }


def publish_migration_scheduled(*, migration: ContractMigration, current: PlanVersion,
                                today: dt.date) -> None:
    outbound_publish(
        event_type=MIGRATION_SCHEDULED, event_id=f"{MIGRATION_SCHEDULED}:{migration.pk}",
        payload={"migration": {**_migration(migration), "from_plan_version": _version(current)}},
        # The service works in days (``today``); the event is stamped at that day's start.
        now=at_midnight(today),
    )


def publish_migration_canceled(*, migration: ContractMigration, today: dt.date) -> None:
    outbound_publish(
        event_type=MIGRATION_CANCELED, event_id=f"{MIGRATION_CANCELED}:{migration.pk}",
        payload={"migration": {**_migration(migration), "canceled_on": _day(today)}},
        now=at_midnight(today),
    )
