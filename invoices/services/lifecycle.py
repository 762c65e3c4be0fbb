"""An invoice's life: draft → finalized (numbered, immutable, synced to Stripe) → paid or
void (SPEC 4).

Choices (docs/invoices.md):
- A draft may be *voided* (the period is then never billed: the billing run makes one
  invoice per contract period, void or not) or *deleted* (admin only; the next billing
  run rates the period again). A paid invoice cannot be voided.
- A hold only stops auto-finalize; finalizing a held draft by hand releases it.
- Auto-finalize counts the review window from the draft's creation, not from its last
  re-rating, so a trickle of late events cannot postpone an invoice forever.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from invoices.models import Invoice
from invoices.services.events import publish_invoice_event
from invoices.services.numbering import next_invoice_number

logger = logging.getLogger(__name__)

Status = Invoice.Status


class InvoiceStateError(ValidationError):
    """The invoice is in the wrong state for the action (the API answers 409)."""

    def __init__(self, invoice: Invoice, action: str, allowed: str):
        self.invoice_status = invoice.status
        super().__init__({"status": [
            f"Invoice {invoice} is {invoice.status}; only {allowed} invoices can be {action}."
        ]})


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().select_related("customer").get(pk=invoice.pk)


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_API_KEY)


@transaction.atomic
def invoice_finalize(*, invoice: Invoice, now: dt.datetime) -> Invoice:
    """Number the draft (next in its currency, no gaps) and freeze it. With Stripe on it is
    left "pending" for the caller to queue (``invoices.stripe.tasks.queue_invoice_sync``);
    the scheduled retry picks up one that never gets queued."""
    invoice = _locked(invoice)
    if invoice.status != Status.DRAFT:
        raise InvoiceStateError(invoice, "finalized", "draft")
    invoice.number = next_invoice_number(currency=invoice.currency)
    invoice.status = Status.FINALIZED
    invoice.finalized_at = now
    invoice.on_hold = False
    if stripe_enabled():
        invoice.stripe_state = Invoice.StripeState.PENDING
    else:
        invoice.stripe_state = Invoice.StripeState.OFF
    invoice.save()
    publish_invoice_event(invoice=invoice, now=now)  # outbound webhook, sent on commit
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, now: dt.datetime) -> Invoice:
    """Void a draft or a finalized invoice. Its Stripe copy is voided once the caller
    queues it (``invoices.stripe.tasks.queue_invoice_void``)."""
    invoice = _locked(invoice)
    if invoice.status not in (Status.DRAFT, Status.FINALIZED):
        raise InvoiceStateError(invoice, "voided", "draft or finalized")
    invoice.status = Status.VOID
    invoice.voided_at = now
    invoice.save(update_fields=["status", "voided_at", "updated_at"])
    publish_invoice_event(invoice=invoice, now=now)
    return invoice


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, paid_at: dt.datetime) -> Invoice:
    """Record payment (e.g. Stripe's ``invoice.paid``). Idempotent for a paid invoice."""
    invoice = _locked(invoice)
    if invoice.status == Status.PAID:
        return invoice
    if invoice.status != Status.FINALIZED:
        raise InvoiceStateError(invoice, "marked paid", "finalized")
    invoice.status = Status.PAID
    invoice.paid_at = paid_at
    invoice.save(update_fields=["status", "paid_at", "updated_at"])
    publish_invoice_event(invoice=invoice, now=paid_at)
    return invoice


# A payment date a little ahead of the server's clock is a skewed clock, not a payment to come.
PAID_AT_SKEW = dt.timedelta(minutes=5)


@transaction.atomic
def invoice_mark_paid_out_of_band(*, invoice: Invoice, paid_at: dt.datetime,
                                  now: dt.datetime) -> Invoice:
    """Ops record a payment made outside Stripe (a bank transfer, a cheque). The caller
    queues ``invoices.stripe.tasks.queue_invoice_paid`` so Stripe marks its copy paid out
    of band and stops collecting. Idempotent for a paid invoice."""
    invoice = _locked(invoice)
    if invoice.status == Status.PAID:
        return invoice
    if invoice.status != Status.FINALIZED:
        raise InvoiceStateError(invoice, "marked paid", "finalized")
    if paid_at > now + PAID_AT_SKEW:
        raise ValidationError({"paid_at": [
            f"paid_at {paid_at:%Y-%m-%dT%H:%M:%SZ} is in the future; record a payment once "
            "it has been received."]})
    if paid_at < invoice.finalized_at:
        raise ValidationError({"paid_at": [
            f"paid_at is before the invoice was finalized "
            f"({invoice.finalized_at:%Y-%m-%dT%H:%M:%SZ})."]})
    return invoice_mark_paid(invoice=invoice, paid_at=paid_at)


@transaction.atomic
def invoice_mark_payment_failed(*, invoice: Invoice, failed_at: dt.datetime) -> Invoice:
    """Record a failed payment attempt; the invoice stays finalized (and payable)."""
    invoice = _locked(invoice)
    if invoice.status in (Status.PAID, Status.VOID):
        logger.info("payment failure for %s invoice %s ignored", invoice.status, invoice.pk)
        return invoice
    if invoice.status != Status.FINALIZED:
        raise InvoiceStateError(invoice, "marked as payment failed", "finalized")
    invoice.payment_failed_at = failed_at
    invoice.save(update_fields=["payment_failed_at", "updated_at"])
    return invoice


def _set_hold(invoice: Invoice, on_hold: bool, verb: str) -> Invoice:
    invoice = _locked(invoice)
    if invoice.status != Status.DRAFT:
        raise InvoiceStateError(invoice, verb, "draft")
    invoice.on_hold = on_hold
    invoice.save(update_fields=["on_hold", "updated_at"])
    return invoice


@transaction.atomic
def invoice_hold(*, invoice: Invoice) -> Invoice:
    """Keep a draft out of auto-finalize (and out of automatic re-rating) for review."""
    return _set_hold(invoice, True, "held")


@transaction.atomic
def invoice_release_hold(*, invoice: Invoice) -> Invoice:
    return _set_hold(invoice, False, "released")


@transaction.atomic
def invoice_delete_draft(*, invoice: Invoice) -> None:
    """Delete a draft; the next billing run rates its period afresh."""
    invoice = _locked(invoice)
    if invoice.status != Status.DRAFT:
        raise InvoiceStateError(invoice, "deleted", "draft")
    invoice.delete()


def auto_finalize_drafts(*, now: dt.datetime) -> list[Invoice]:
    """Finalize every draft older than the review window that is not on hold.

    Oldest period first, each in its own transaction: one failure is logged and the
    others still finalize. Idempotent: a draft finalized meanwhile is skipped.
    """
    cutoff = now - dt.timedelta(seconds=settings.BILLING_REVIEW_WINDOW_SECONDS)
    due = (
        Invoice.objects.filter(status=Status.DRAFT, on_hold=False, created_at__lte=cutoff)
        .order_by("period_start", "customer_id")
        .values_list("pk", flat=True)
    )
    finalized = []
    for invoice_id in list(due):
        try:
            with transaction.atomic():
                invoice = (
                    Invoice.objects.select_for_update()
                    .filter(pk=invoice_id, status=Status.DRAFT, on_hold=False).first()
                )
                if invoice is None:
                    continue
                finalized.append(invoice_finalize(invoice=invoice, now=now))
        except Exception:
            logger.exception("auto-finalize of invoice %s failed", invoice_id)
    return finalized
