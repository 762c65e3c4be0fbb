"""Routes under /api/v1 for invoices, the upcoming invoice and billing runs."""

from __future__ import annotations

from common.api.urls import api_path
from invoices.api import views

urlpatterns = [
    *api_path("invoices", views.InvoiceListView, "invoice-list"),
    *api_path("invoices/<str:invoice_id>", views.InvoiceDetailView, "invoice-detail"),
    *api_path("invoices/<str:invoice_id>/pdf", views.InvoicePdfView, "invoice-pdf-api"),
    *api_path("invoices/<str:invoice_id>/finalize", views.InvoiceFinalizeView, "invoice-finalize"),
    *api_path("invoices/<str:invoice_id>/void", views.InvoiceVoidView, "invoice-void"),
    *api_path("invoices/<str:invoice_id>/mark-paid", views.InvoiceMarkPaidView,
              "invoice-mark-paid"),
    *api_path("customers/<str:external_id>/upcoming-invoice", views.UpcomingInvoiceView,
              "upcoming-invoice"),
    *api_path("billing-runs", views.BillingRunListView, "billing-run-list"),
    *api_path("billing-runs/<str:run_id>", views.BillingRunDetailView, "billing-run-detail"),
]
