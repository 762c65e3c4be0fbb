"""Stripe webhooks: verify, store once, process later, keep failures for replay.

* Receiving verifies the ``Stripe-Signature`` (HMAC over the raw body, 5 minute
  tolerance) before anything is stored, then stores the event once: ``stripe_id`` is
  unique, so the database decides between two deliveries of the same event.
* Processing runs in a task after commit. ``invoice.paid`` marks our invoice paid,
  ``invoice.payment_failed`` flags it, ``invoice.voided`` voids it; other types are
  ignored. Our invoice is found by ``metadata.invoice_id`` (set by the sync), else by
  ``stripe_invoice_id``.
* Outcomes: *processed*; *ignored* (a type we do not handle, or an invoice this app did
  not create: no ``invoice_id`` metadata and no matching Stripe id); *failed* with the
  error (an ``invoice_id`` we do not have, a state conflict such as paid in Stripe but
  void here, or any unexpected error). Failed events are replayed by the scheduled
  ``replay_failed_webhooks`` and the admin action, up to :data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from invoices.models import Invoice, StripeEvent
from invoices.services.lifecycle import (
    invoice_mark_paid,
    invoice_mark_payment_failed,
    invoice_void,
)

logger = logging.getLogger(__name__)

InvoiceStatus = Invoice.Status
MAX_ATTEMPTS = 10
# A "received" event older than this was never processed (its task was lost).
LOST_AFTER = dt.timedelta(minutes=10)
REPLAY_BATCH = 500
HANDLED_TYPES = ("invoice.paid", "invoice.payment_failed", "invoice.voided")


class WebhookNotConfigured(Exception):
    """STRIPE_WEBHOOK_SECRET is not set, so no delivery can be verified."""


class WebhookRejected(Exception):
    """Bad signature, stale timestamp or not a Stripe event; nothing was stored."""


class EventFailed(Exception):
    """The event cannot be applied (now); kept as failed with this message."""


# --------------------------------------------------------------------------- receive

NOT_AN_EVENT = "The body is not a Stripe event"
_ID_LENGTH = StripeEvent._meta.get_field("stripe_id").max_length
_TYPE_LENGTH = StripeEvent._meta.get_field("type").max_length


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _stripe_event(text: str) -> dict[str, Any]:
    """The signed body as a Stripe event object, or :class:`WebhookRejected` saying why.

    Beyond the shape, the whole payload must be storable as jsonb: PostgreSQL refuses NUL
    characters, unpaired surrogates and NaN anywhere in it.
    """
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise WebhookRejected(f"{NOT_AN_EVENT}: it is not valid JSON ({exc}).") from None
    if not isinstance(body, dict):
        raise WebhookRejected(f"{NOT_AN_EVENT}: expected a JSON object with id, type and "
                              f"data.object, got a JSON {type(body).__name__}.")
    for name, limit in (("id", _ID_LENGTH), ("type", _TYPE_LENGTH)):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise WebhookRejected(f"{NOT_AN_EVENT}: {name} must be a non-empty string.")
        if len(value) > limit:
            raise WebhookRejected(f"{NOT_AN_EVENT}: {name} is longer than {limit} characters.")
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookRejected(f"{NOT_AN_EVENT}: data.object must be a JSON object.")
    try:
        storable = _storable(body)
    except RecursionError:
        raise WebhookRejected(f"{NOT_AN_EVENT}: it is nested too deeply.") from None
    if not storable:
        raise WebhookRejected(f"{NOT_AN_EVENT}: it holds NUL characters (\\u0000) or "
                              "unpaired surrogates, which cannot be stored.")
    return body


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        if "\x00" in value:
            return False
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True



@transaction.atomic
def stripe_webhook_receive(*, payload: bytes, signature: str | None,
                           now: dt.datetime) -> tuple[StripeEvent, bool]:
    """Verify and store one delivery; returns ``(event, created)``. A duplicate delivery
    returns the stored event with ``created=False`` and changes nothing. A created event
    is for the caller to queue (``invoices.stripe.tasks.queue_stripe_event``)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookNotConfigured(
            "Stripe webhooks are not configured: STRIPE_WEBHOOK_SECRET is not set."
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(f"{NOT_AN_EVENT}: it is not UTF-8 text.") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"Invalid Stripe signature: {exc.user_message or exc}") from exc
    # Parsed here rather than by stripe.Webhook.construct_event, which assumes a JSON
    # object and fails with a TypeError on a signed "[1]".
    body = _stripe_event(text)
    event, created = StripeEvent.objects.get_or_create(
        stripe_id=body["id"],
        defaults={"type": body["type"], "payload": body, "received_at": now},
    )
    return event, created


# --------------------------------------------------------------------------- process


def stripe_event_process(*, event: StripeEvent, now: dt.datetime) -> StripeEvent:
    """Apply one stored event, once. Processed and ignored events are left alone."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event.pk)
        if event.status in (StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED):
            return event
        try:
            with transaction.atomic():  # its effects roll back; the failure record stays
                status, note = _apply(event, now)
        except (EventFailed, ValidationError) as exc:
            status, note = StripeEvent.Status.FAILED, _message(exc)
        except Exception as exc:
            logger.exception("processing Stripe event %s failed", event.stripe_id)
            status, note = StripeEvent.Status.FAILED, f"{type(exc).__name__}: {exc}"
        event.status = status
        event.error = note
        event.attempts += 1
        event.processed_at = now if status != StripeEvent.Status.FAILED else None
        event.save(update_fields=["status", "error", "attempts", "processed_at"])
    if status == StripeEvent.Status.FAILED:
        logger.warning("Stripe event %s (%s) failed: %s", event.stripe_id, event.type, note)
    return event


def stripe_events_replay(*, now: dt.datetime) -> list[StripeEvent]:
    """Process again failed events (below the attempt cap) and lost received ones."""
    due = StripeEvent.objects.filter(
        Q(status=StripeEvent.Status.FAILED, attempts__lt=MAX_ATTEMPTS)
        | Q(status=StripeEvent.Status.RECEIVED, received_at__lte=now - LOST_AFTER)
    ).order_by("received_at")
    return [stripe_event_process(event=event, now=now) for event in due[:REPLAY_BATCH]]


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return str(exc)


def _apply(event: StripeEvent, now: dt.datetime) -> tuple[str, str]:
    if event.type not in HANDLED_TYPES:
        return StripeEvent.Status.IGNORED, f"{event.type} is not handled."
    obj = (event.payload.get("data") or {}).get("object") or {}
    if obj.get("object") != "invoice":
        return StripeEvent.Status.IGNORED, "The event carries no invoice."
    invoice = _our_invoice(obj)
    if invoice is None:
        return StripeEvent.Status.IGNORED, f"Stripe invoice {obj.get('id')} was not made here."
    if invoice.stripe_invoice_id and obj.get("id") and obj["id"] != invoice.stripe_invoice_id:
        raise EventFailed(
            f"Invoice {invoice} is Stripe invoice {invoice.stripe_invoice_id}, but the event "
            f"is about {obj['id']}; check Stripe for a duplicate invoice."
        )
    transitions = obj.get("status_transitions") or {}
    if event.type == "invoice.paid":
        if invoice.status == InvoiceStatus.VOID:
            raise EventFailed(
                f"Invoice {invoice} is void here but was paid in Stripe; refund it in Stripe "
                "or reconcile by hand."
            )
        invoice_mark_paid(invoice=invoice, paid_at=_when(transitions.get("paid_at"), now))
    elif event.type == "invoice.payment_failed":
        invoice_mark_payment_failed(invoice=invoice, failed_at=_when(_created(event), now))
    elif event.type == "invoice.voided":
        if invoice.status == InvoiceStatus.PAID:
            raise EventFailed(
                f"Invoice {invoice} is paid here but was voided in Stripe; reconcile by hand."
            )
        if invoice.status != InvoiceStatus.VOID:
            invoice_void(invoice=invoice, now=_when(transitions.get("voided_at"), now))
    return StripeEvent.Status.PROCESSED, ""


def _our_invoice(obj: dict[str, Any]) -> Invoice | None:
    invoice_id = (obj.get("metadata") or {}).get("invoice_id")
    if invoice_id:
        try:
            pk = uuid.UUID(str(invoice_id))
        except ValueError:
            return None
        invoice = Invoice.objects.filter(pk=pk).first()
        if invoice is None:
            # Our sync wrote this metadata, so the invoice should be here: a restore
            # from an old backup, or another environment on the same Stripe account.
            raise EventFailed(f"No invoice {invoice_id} here (from Stripe invoice "
                              f"{obj.get('id')} metadata).")
        return invoice
    if not obj.get("id"):
        return None
    return Invoice.objects.filter(stripe_invoice_id=obj["id"]).first()


def _created(event: StripeEvent) -> Any:
    return event.payload.get("created")


def _when(timestamp: Any, fallback: dt.datetime) -> dt.datetime:
    """Stripe's own time of the change when it sent one, else when we processed it."""
    if isinstance(timestamp, int) and not isinstance(timestamp, bool) and timestamp > 0:
        return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return fallback
