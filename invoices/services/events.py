"""The invoice events sent to the vendor's own systems (outbound webhooks,
docs/webhooks.md): ``invoice.finalized``, ``invoice.paid``, ``invoice.voided``.

Called by the lifecycle services inside their transaction; the event id is the invoice
id, so an action retried (or a Stripe webhook replayed) sends each event once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from accounts.outbound.events import INVOICE_FINALIZED, INVOICE_PAID, INVOICE_VOIDED
from accounts.outbound.publish import outbound_publish
from common.decimals import format_money
from invoices.models import Invoice

EVENT_OF_STATUS = {
    Invoice.Status.FINALIZED: INVOICE_FINALIZED,
    Invoice.Status.PAID: INVOICE_PAID,
    Invoice.Status.VOID: INVOICE_VOIDED,
}


def _moment(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {"invoice": {
        "id": str(invoice.pk), "number": invoice.number,
        "customer": invoice.customer.external_id, "customer_name": invoice.customer.name,
        "status": invoice.status, "currency": invoice.currency,
        "total": format_money(invoice.total, currency=invoice.currency),
        "period_start": _moment(invoice.period_start), "period_end": _moment(invoice.period_end),
        "finalized_at": _moment(invoice.finalized_at), "paid_at": _moment(invoice.paid_at),
        "voided_at": _moment(invoice.voided_at),
    }}


def publish_invoice_event(*, invoice: Invoice, now: dt.datetime) -> None:
    """The event of the invoice's new status, to every subscribed endpoint, once."""
    event_type = EVENT_OF_STATUS[invoice.status]
    outbound_publish(event_type=event_type, event_id=f"{event_type}:{invoice.pk}",
                     payload=invoice_payload(invoice), now=now)
