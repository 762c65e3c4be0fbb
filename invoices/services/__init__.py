"""Writes for invoices: billing runs, re-rating and the invoice lifecycle."""

from invoices.services.billing_run import billing_run, invoice_rerate
from invoices.services.lifecycle import (
    InvoiceStateError,
    auto_finalize_drafts,
    invoice_delete_draft,
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid,
    invoice_mark_paid_out_of_band,
    invoice_mark_payment_failed,
    invoice_release_hold,
    invoice_void,
)

__all__ = [
    "InvoiceStateError",
    "auto_finalize_drafts",
    "billing_run",
    "invoice_delete_draft",
    "invoice_finalize",
    "invoice_hold",
    "invoice_mark_paid",
    "invoice_mark_paid_out_of_band",
    "invoice_mark_payment_failed",
    "invoice_rerate",
    "invoice_release_hold",
    "invoice_void",
]
