"""Reads over invoices and billing runs shared by the API, the admin and the pages.

The billing run's reads live beside this: ``billing_load`` (a group's work, as frozen
data), ``terms`` (price books), ``usage`` (usage values in bulk), ``line_rows``
(invoice lines as rows and back) and ``preview`` (the upcoming invoice).
"""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from accounts.models import Customer
from invoices.models import BillingRun, Invoice, InvoiceLine


def _as_uuid(value: object) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def invoice_list(*, customer: Customer | None = None, status: str | None = None,
                 with_lines: bool = True) -> QuerySet[Invoice]:
    invoices = Invoice.objects.select_related("customer", "plan_version__plan")
    if with_lines:
        invoices = invoices.prefetch_related(
            Prefetch("lines", queryset=InvoiceLine.objects.order_by("position"))
        )
    if customer is not None:
        invoices = invoices.filter(customer=customer)
    if status is not None:
        invoices = invoices.filter(status=status)
    return invoices.order_by("-period_start", "customer__external_id", "pk")


def invoice_get(*, invoice_id: object) -> Invoice | None:
    """The invoice with its lines, customer and plan; None for an unknown or malformed id."""
    pk = _as_uuid(invoice_id)
    return None if pk is None else invoice_list().filter(pk=pk).first()


def portal_invoice_list(*, customer: Customer, with_lines: bool = False) -> QuerySet[Invoice]:
    """What a customer's users see: their finalized, paid and void invoices, newest first
    (drafts are ops' working copies)."""
    return invoice_list(customer=customer, with_lines=with_lines).exclude(
        status=Invoice.Status.DRAFT)


def portal_invoice_get(*, customer: Customer, invoice_id: object) -> Invoice | None:
    """The invoice, only if it is one of ``portal_invoice_list(customer)``: another
    customer's invoice, a draft and a malformed id all read as none."""
    pk = _as_uuid(invoice_id)
    if pk is None:
        return None
    return portal_invoice_list(customer=customer, with_lines=True).filter(pk=pk).first()


def billing_run_list() -> QuerySet[BillingRun]:
    return BillingRun.objects.order_by("-requested_at")


def billing_run_get(*, run_id: object) -> BillingRun | None:
    pk = _as_uuid(run_id)
    return None if pk is None else BillingRun.objects.filter(pk=pk).first()
