"""The event types the outbound webhooks send (docs/webhooks.md gives each payload)."""

from __future__ import annotations

ALERT_TRIGGERED = "alert.triggered"
INVOICE_FINALIZED = "invoice.finalized"
INVOICE_PAID = "invoice.paid"
INVOICE_VOIDED = "invoice.voided"
CONTRACT_RENEWED = "contract.renewed"
MIGRATION_SCHEDULED = "migration.scheduled"
MIGRATION_CANCELED = "migration.canceled"

EVENT_TYPES = (
    ALERT_TRIGGERED, INVOICE_FINALIZED, INVOICE_PAID, INVOICE_VOIDED, CONTRACT_RENEWED,
    MIGRATION_SCHEDULED, MIGRATION_CANCELED,
)
