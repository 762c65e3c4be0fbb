"""Where a login lands (the invoice page is the portal's: invoices/portal/invoices.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from invoices.documents import upcoming_document
from invoices.models import Invoice
from invoices.selectors import customer_of, invoice_list
from invoices.selectors.preview import upcoming_invoice
from plans.selectors import contract_pending_migrations


@login_required
def customer_home(request: HttpRequest) -> HttpResponse:
    """Where a login lands: staff go to the admin; a customer's user sees their account."""
    if request.user.is_staff:
        return redirect("admin:index")
    customer = customer_of(user=request.user)
    if customer is None:
        raise PermissionDenied("This login is not linked to a customer.")
    now = timezone.now()
    upcoming = upcoming_invoice(customer=customer, at=now)
    contract = upcoming.contract if upcoming else None
    return render(request, "invoices/customer_home.html", {
        "customer": customer,
        "upcoming": upcoming_document(upcoming, at=now) if upcoming else None,
        "contract": contract,
        "pending_migrations": (
            contract_pending_migrations(contract=contract, today=now.date()) if contract else []
        ),
        "invoices": invoice_list(customer=customer).exclude(status=Invoice.Status.DRAFT)[:50],
    })
