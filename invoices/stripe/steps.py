"""The Stripe API calls of the invoice sync, one resumable step at a time.

Called only by :mod:`invoices.stripe.sync`, which owns state, locking and failure
bookkeeping. Every write carries an idempotency key built from our row ids, and every
Stripe id is saved the moment it is known, so the next attempt resumes after it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import stripe
from django.conf import settings

from accounts.models import Customer
from invoices.models import Invoice, InvoiceLine
from invoices.rating.money import to_minor_units

Status = Invoice.Status


class StripeMismatch(Exception):
    """Stripe's copy disagrees with ours in a way a retry cannot fix; needs a human."""


def stripe_client() -> stripe.StripeClient:
    """A client per call, so settings changes (and tests) take effect immediately."""
    base = settings.STRIPE_API_BASE
    return stripe.StripeClient(
        settings.STRIPE_API_KEY,
        base_addresses={"api": base} if base else None,
        max_network_retries=2,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT),
    )


def idempotency_key(invoice: Invoice, step: str) -> str:
    return f"invoice-{invoice.pk}-{step}"


def customer_idempotency_key(customer: Customer) -> str:
    """The row's id and its creation to the microsecond: a customer's id alone comes round
    again in another environment sharing the Stripe account, or after a database reset,
    and Stripe would answer that key with the other row's customer (or refuse it)."""
    created = customer.created_at.astimezone(dt.UTC)
    return f"customer-{customer.pk}-{created:%Y%m%dT%H%M%S%f}"


def _options(key: str) -> Any:
    return {"idempotency_key": key}


def _save_invoice(invoice: Invoice, now: dt.datetime, **fields: Any) -> None:
    Invoice.objects.filter(pk=invoice.pk).update(**fields, updated_at=now)
    for name, value in fields.items():
        setattr(invoice, name, value)


def push_invoice(client: stripe.StripeClient, invoice: Invoice, *, now: dt.datetime) -> None:
    """Make Stripe match ``invoice``: finalized there (and paid out of band if paid here),
    or voided/deleted if void here."""
    if invoice.status == Status.VOID:
        converge_void(client, invoice)
        return
    customer_id = ensure_customer(client, invoice.customer)
    resumed = bool(invoice.stripe_invoice_id)
    if resumed:
        remote = client.v1.invoices.retrieve(invoice.stripe_invoice_id)
    else:
        remote = client.v1.invoices.create(
            invoice_params(invoice, customer_id), _options(idempotency_key(invoice, "create"))
        )
        _save_invoice(invoice, now, stripe_invoice_id=remote.id)
    lines = list(InvoiceLine.objects.filter(invoice=invoice).order_by("position"))
    if resumed and any(not line.stripe_invoice_item_id for line in lines):
        _adopt_existing_items(client, invoice, lines)
    missing = [line for line in lines if not line.stripe_invoice_item_id]
    if remote.status == "draft":
        for line in missing:
            _create_item(client, invoice, customer_id, line)
        if _voided_meanwhile(invoice):
            converge_void(client, invoice)
            return
        remote = client.v1.invoices.finalize_invoice(
            invoice.stripe_invoice_id, {"auto_advance": False},
            _options(idempotency_key(invoice, "finalize")),
        )
    elif missing:
        raise StripeMismatch(
            f"Stripe invoice {remote.id} is {remote.status} but lines "
            f"{[line.position for line in missing]} are missing from it; fix it by hand."
        )
    expected = sum(to_minor_units(line.amount, invoice.currency) for line in lines)
    if remote.total != expected:
        raise StripeMismatch(
            f"Stripe invoice {remote.id} totals {remote.total} but our lines total "
            f"{expected} ({invoice.currency} minor units); check it for duplicate or "
            "missing items."
        )
    if _paid_here(invoice) and remote.status in ("open", "uncollectible"):
        # Paid outside Stripe (recorded by ops): Stripe must stop collecting it, or the
        # customer is charged twice.
        client.v1.invoices.pay(invoice.stripe_invoice_id, {"paid_out_of_band": True},
                               _options(idempotency_key(invoice, "pay")))


def ensure_customer(client: stripe.StripeClient, customer: Customer) -> str:
    stored = Customer.objects.values_list("stripe_customer_id", flat=True).get(pk=customer.pk)
    if stored:
        return stored
    created = client.v1.customers.create(
        {
            "name": customer.name,
            "email": customer.email,
            "metadata": {"customer_external_id": customer.external_id},
        },
        _options(customer_idempotency_key(customer)),
    )
    # Only fills an empty id: a concurrent sync that stored one first wins (with the same
    # key it is the same Stripe customer anyway), and no other field is overwritten.
    Customer.objects.filter(pk=customer.pk, stripe_customer_id="").update(
        stripe_customer_id=created.id
    )
    return Customer.objects.values_list("stripe_customer_id", flat=True).get(pk=customer.pk)


def _unix(value: dt.datetime) -> int:
    return int(value.timestamp())


def invoice_params(invoice: Invoice, customer_id: str) -> dict[str, Any]:
    return {
        "customer": customer_id,
        "currency": invoice.currency.lower(),
        "collection_method": "send_invoice",
        "days_until_due": settings.STRIPE_DAYS_UNTIL_DUE,
        "auto_advance": False,
        # Only the items we add; never sweep up pending items someone else created.
        "pending_invoice_items_behavior": "exclude",
        "description": (
            f"Invoice {invoice.number}: {invoice.period_start:%Y-%m-%d} to "
            f"{invoice.period_end:%Y-%m-%d}"
        ),
        "metadata": {"invoice_id": str(invoice.pk), "number": invoice.number or ""},
    }


def _create_item(client: stripe.StripeClient, invoice: Invoice, customer_id: str,
                 line: InvoiceLine) -> None:
    item = client.v1.invoice_items.create(
        {
            "customer": customer_id,
            "invoice": invoice.stripe_invoice_id,
            "currency": invoice.currency.lower(),
            # Negative lines (discounts, overage cap) are negative items, as Stripe allows.
            "amount": to_minor_units(line.amount, invoice.currency),
            "description": line.description,
            "period": {"start": _unix(invoice.period_start), "end": _unix(invoice.period_end)},
            "metadata": {"invoice_id": str(invoice.pk), "line_position": str(line.position)},
        },
        _options(idempotency_key(invoice, f"line-{line.position}")),
    )
    _save_item_id(line, item.id)


def _save_item_id(line: InvoiceLine, item_id: str) -> None:
    InvoiceLine.objects.filter(pk=line.pk).update(stripe_invoice_item_id=item_id)
    line.stripe_invoice_item_id = item_id


def _adopt_existing_items(client: stripe.StripeClient, invoice: Invoice,
                          lines: list[InvoiceLine]) -> None:
    """Match items already on the Stripe invoice to our lines by ``line_position``.

    Covers an item whose create answer was lost after Stripe's 24 h idempotency window,
    when replaying the key would create it a second time."""
    found: dict[str, str] = {}
    listing = client.v1.invoice_items.list({"invoice": invoice.stripe_invoice_id, "limit": 100})
    for item in listing.auto_paging_iter():
        metadata = item.metadata.to_dict() if item.metadata else {}
        if metadata.get("invoice_id") == str(invoice.pk) and metadata.get("line_position"):
            found.setdefault(metadata["line_position"], item.id)
    for line in lines:
        if not line.stripe_invoice_item_id and str(line.position) in found:
            _save_item_id(line, found[str(line.position)])


def _paid_here(invoice: Invoice) -> bool:
    invoice.status = Invoice.objects.values_list("status", flat=True).get(pk=invoice.pk)
    return invoice.status == Status.PAID


def _voided_meanwhile(invoice: Invoice) -> bool:
    # Voided here while we were pushing: finalizing it in Stripe would bill it.
    invoice.status = Invoice.objects.values_list("status", flat=True).get(pk=invoice.pk)
    return invoice.status == Status.VOID


def converge_void(client: stripe.StripeClient, invoice: Invoice) -> None:
    if not invoice.stripe_invoice_id:
        return  # never reached Stripe: nothing to void
    try:
        remote = client.v1.invoices.retrieve(invoice.stripe_invoice_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            return  # its draft was deleted (by us, earlier, or by hand)
        raise
    if remote.status == "draft":
        # A draft cannot be voided; deleting it is how Stripe discards one.
        try:
            client.v1.invoices.delete(invoice.stripe_invoice_id)
        except stripe.InvalidRequestError as exc:
            if exc.code != "resource_missing":  # already deleted is done
                raise
    elif remote.status in ("open", "uncollectible"):
        client.v1.invoices.void_invoice(
            invoice.stripe_invoice_id, None, _options(idempotency_key(invoice, "void"))
        )
    elif remote.status == "paid":
        raise StripeMismatch(
            f"Invoice {invoice} is void here but Stripe invoice {remote.id} is paid; refund "
            "it in Stripe or reconcile by hand."
        )
