"""The portal's invoices: the list of the customer's invoices and the printable invoice page
with every line's arithmetic in words (``invoices/portal/wording.py``).

A customer's user reaches only their own customer's finalized, paid and void invoices;
any other id (another customer's, a draft, one that does not exist) is the same 404.
Staff open any invoice's page from the admin (``invoices/admin.py`` links here).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from invoices.documents import invoice_document
from invoices.models import Invoice
from invoices.portal import wording
from invoices.portal.access import portal_customer
from invoices.selectors import invoice_get, portal_invoice_get, portal_invoice_list
from plans.selectors import metric_list

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


@login_required
def invoice_page(request: HttpRequest, invoice_id: str) -> HttpResponse:
    if request.user.is_staff:
        invoice = invoice_get(invoice_id=invoice_id)
    else:
        invoice = portal_invoice_get(customer=portal_customer(request), invoice_id=invoice_id)
    if invoice is None:
        raise Http404("No such invoice.")
    document = invoice_document(invoice)
    names = dict(metric_list().values_list("code", "name"))
    return render(request, "invoices/invoice_detail.html", {
        "invoice": document,
        "customer": invoice.customer,
        "period": _period(invoice),
        "lines": wording.line_words(document.lines, currency=invoice.currency,
                                    metric_names=names,
                                    seat_equivalents=document.seat_equivalents),
        "total": wording.money(invoice.total, invoice.currency),
        "finalized_on": _day(invoice.finalized_at),
        "paid_on": _day(invoice.paid_at),
        "voided_on": _day(invoice.voided_at),
        "exports": not request.user.is_staff,
    })


def _period(invoice: Invoice) -> str:
    return wording.period(invoice.period_start.astimezone(dt.UTC).date(),
                          invoice.period_end.astimezone(dt.UTC).date())


def _day(moment: dt.datetime | None) -> str | None:
    return None if moment is None else wording.day(moment.astimezone(dt.UTC).date())
