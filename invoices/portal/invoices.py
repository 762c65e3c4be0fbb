"""The portal's invoices: the list of the customer's invoices, the printable invoice page
with every line's arithmetic in words (``invoices/portal/wording.py``) and its PDF.

A customer's user reaches only their own customer's finalized, paid and void invoices;
any other id (another customer's, a draft, one that does not exist) is the same 404.
Staff open any invoice's page from the admin (``invoices/admin.py`` links here).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from invoices.models import Invoice
from invoices.portal import wording
from invoices.portal.access import portal_customer
from invoices.portal.pdf import invoice_pdf_response
from invoices.portal.sheet import invoice_sheet
from invoices.selectors import invoice_get, portal_invoice_get, portal_invoice_list

INVOICES_PER_PAGE = 25


@login_required
def invoice_list_page(request: HttpRequest) -> HttpResponse:
    customer = portal_customer(request)
    paginator = Paginator(portal_invoice_list(customer=customer), INVOICES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    rows = [
        {
            "invoice": invoice,
            "period": _period(invoice),
            "total": wording.money(invoice.total, invoice.currency),
        }
        for invoice in page.object_list
    ]
    return render(request, "invoices/portal/invoice_list.html", {
        "customer": customer, "page": page, "rows": rows,
    })


def _invoice_or_404(request: HttpRequest, invoice_id: str) -> Invoice:
    if request.user.is_staff:
        invoice = invoice_get(invoice_id=invoice_id)
    else:
        invoice = portal_invoice_get(customer=portal_customer(request), invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


@login_required
def invoice_page(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _invoice_or_404(request, invoice_id)
    sheet = invoice_sheet(invoice, issuer=settings.INVOICE_ISSUER)
    return render(request, "invoices/invoice_detail.html", {
        "sheet": sheet,
        "invoice": sheet.document,
        "customer": invoice.customer,
        "exports": not request.user.is_staff,
    })


@login_required
def invoice_pdf_page(request: HttpRequest, invoice_id: str) -> HttpResponse:
    """The same invoice as a PDF file to download (``invoices/portal/pdf.py``)."""
    return invoice_pdf_response(_invoice_or_404(request, invoice_id))


def _period(invoice: Invoice) -> str:
    return wording.period(invoice.period_start.astimezone(dt.UTC).date(),
                          invoice.period_end.astimezone(dt.UTC).date())


