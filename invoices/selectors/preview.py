"""The upcoming invoice (SPEC 6): what the period containing a moment would be billed,
rated by the same engine as a billing run, with late usage, and saved nowhere.

The same way as a run, minus the save: load the period
(``invoices.selectors.billing_load.load_period``), rate it
(``invoices.rating.drafts.rate_work``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.models import Customer
from invoices.models import Invoice
from invoices.rating import SeatSpan
from invoices.rating.books import PriceBook
from invoices.rating.drafts import RatedInvoice, rate_work
from invoices.selectors.billing_load import BILLABLE_CONTRACTS, load_period
from plans.models import Contract
from plans.periods import Period
from plans.selectors import contract_list, contract_period_containing


@dataclass(frozen=True)
class UpcomingInvoice:
    customer: Customer
    contract: Contract  # with its plan version and migrations, for the pages
    period: Period
    book: PriceBook  # the version the period is rated on
    rated: RatedInvoice
    invoice_id: uuid.UUID | None  # the period's saved invoice, if it has one
    seats: tuple[SeatSpan, ...] = ()  # what it was rated on (the dashboard's projection)


def contract_in_force(*, customer: Customer, day: dt.date) -> Contract | None:
    return (
        contract_list(customer=customer)
        .filter(status__in=BILLABLE_CONTRACTS, start_date__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
        .order_by("-start_date", "-pk")
        .first()
    )


def upcoming_invoice(*, customer: Customer, at: dt.datetime,
                     contract: Contract | None = None) -> UpcomingInvoice | None:
    """None when no contract is in force at ``at``. ``contract``: the one in force, when
    the caller has read it already (``contract_in_force``)."""
    day = at.astimezone(dt.UTC).date()
    if contract is None:
        contract = contract_in_force(customer=customer, day=day)
    if contract is None:
        return None
    period = contract_period_containing(contract=contract, day=day)
    saved = (
        Invoice.objects.filter(contract=contract, period_start=period.start_at)
        .values_list("pk", "status").first()
    )
    draft_id = saved[0] if saved is not None and saved[1] == Invoice.Status.DRAFT else None
    loaded = load_period(contract_id=contract.pk, period=period, draft_id=draft_id)
    (rating,) = rate_work(loaded.work)
    if rating.error is not None:
        raise ValidationError({"at": [f"The period cannot be rated: {rating.error}"]})
    (rated,) = rating.invoices
    return UpcomingInvoice(
        customer=customer, contract=contract, period=period,
        book=loaded.work.books[rated.target.version_id], rated=rated,
        invoice_id=saved[0] if saved is not None else None,
        seats=tuple(loaded.work.seats.get(customer.pk, ())),
    )
