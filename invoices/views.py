"""The printable invoice page: every line's arithmetic, for staff and the customer's users."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from invoices.documents import invoice_document
from invoices.selectors import invoice_get, invoice_viewable_by


@login_required
def invoice_page(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = invoice_get(invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    if not invoice_viewable_by(invoice=invoice, user=request.user):
        raise PermissionDenied("This invoice belongs to another customer.")
    return render(request, "invoices/invoice_detail.html", {
        "invoice": invoice_document(invoice),
        "customer": invoice.customer,
    })
