"""The upcoming invoice (SPEC 6): what the period containing a moment would be billed,
rated by the same engine as a billing run, with late usage, and saved nowhere."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.models import Customer
from invoices.models import Invoice
from invoices.services.drafting import BILLABLE_CONTRACTS, BuiltInvoice, Rater, Target
from invoices.services.terms import contract_interval, version_in_force
from plans.models import Contract, PlanVersion
from plans.periods import Period, period_containing
from plans.selectors import contract_list


@dataclass(frozen=True)
class UpcomingInvoice:
    customer: Customer
    contract: Contract
    period: Period
    plan_version: PlanVersion
    built: BuiltInvoice
    existing: Invoice | None  # the period's saved invoice, if it has one


def contract_in_force(*, customer: Customer, day: dt.date) -> Contract | None:
    return (
        contract_list(customer=customer)
        .filter(status__in=BILLABLE_CONTRACTS, start_date__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
        .order_by("-start_date", "-pk")
        .first()
    )


def upcoming_invoice(*, customer: Customer, at: dt.datetime) -> UpcomingInvoice | None:
    """None when no contract is in force at ``at``."""
    day = at.astimezone(dt.UTC).date()
    contract = contract_in_force(customer=customer, day=day)
    if contract is None:
        return None
    period = period_containing(contract.anchor_date, contract_interval(contract), day)
    version = version_in_force(contract, period)
    saved = (
        Invoice.objects.filter(contract=contract, period_start=period.start_at)
        .prefetch_related("lines").first()
    )
    draft = saved if saved is not None and saved.status == Invoice.Status.DRAFT else None
    rater = Rater()
    (result,) = rater.rate([Target(customer.pk, contract, period, version.pk, existing=draft)])
    if result.error is not None:
        raise ValidationError({"at": [f"The period cannot be rated: {result.error}"]})
    return UpcomingInvoice(
        customer=customer, contract=contract, period=period,
        plan_version=rater.books.version(version.pk), built=result.built[0], existing=saved,
    )
