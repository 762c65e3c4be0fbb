"""One presentation of an invoice for the API, the HTML page and the admin.

A saved invoice and an upcoming (unsaved) one read the same: money as decimal strings
with the currency's minor units (``"172.90"``), quantities and units without padding
(``"4.322581"``, ``"5200"``), times in ISO 8601 UTC (SPEC 6-7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from common.bounds import format_moment
from common.decimals import format_decimal, format_money
from invoices.models import Invoice, InvoiceLine
from invoices.rating import Line
from invoices.selectors.line_rows import tiers_json
from invoices.selectors.preview import UpcomingInvoice


def _money(value: Any, currency: str) -> str | None:
    return None if value is None else format_money(Decimal(value), currency=currency)


def _number(value: Any) -> str | None:
    return None if value is None else format_decimal(Decimal(value))


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else format_moment(moment)


# What each field holds, for the API's schema: ``invoices/api/serializers.py`` builds the
# invoice serializers from these dataclasses, so the documented shape is this one.
MONEY = {"format": "money"}  # decimal string with the currency's minor units
NUMBER = {"format": "number"}  # decimal string without padding
DATE = {"format": "date"}
MOMENT = {"format": "date-time"}
UUID = {"format": "uuid"}
PAGE_ONLY = {"api": False}  # shown on the pages, not part of the API's shape


def _described(**metadata: Any) -> Any:
    return field(metadata=metadata)


def _optional(**metadata: Any) -> Any:
    return field(default=None, metadata=metadata)


class _Document:
    def as_dict(self) -> dict[str, Any]:
        """The API's body: every field but the page-only ones, nested documents as dicts."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                if f.metadata.get("api", True)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value.as_dict() if isinstance(value, _Document) else value


@dataclass(frozen=True, kw_only=True)
class TierDoc(_Document):
    up_to: str | None = _described(**NUMBER)
    units: str = _described(**NUMBER)
    unit_price: str = _described(**MONEY)
    flat_fee: str = _described(**MONEY)
    amount: str = _described(**MONEY)


@dataclass(frozen=True, kw_only=True)
class LineDoc(_Document):
    kind: str = _described(choices=InvoiceLine.Kind.choices)
    description: str
    quantity: str | None = _described(**NUMBER)
    unit_price: str | None = _described(**MONEY)
    amount: str = _described(**MONEY)
    metric: str | None
    value: str | None = _described(**NUMBER)
    included: str | None = _described(**NUMBER)
    billable: str | None = _described(**NUMBER)
    tiers: tuple[TierDoc, ...]
    period_start: str | None = _described(**DATE, help_text="Late usage: its period.")
    period_end: str | None = _described(**DATE, help_text="Exclusive.")


@dataclass(frozen=True, kw_only=True)
class InvoiceDoc(_Document):
    id: str | None = _described(**UUID)
    customer: str = _described(help_text="The customer's external_id.")
    customer_name: str = _described(**PAGE_ONLY)
    status: str = _described(choices=Invoice.Status.choices)
    number: str | None
    period_start: str = _described(**MOMENT)
    period_end: str = _described(**MOMENT)
    currency: str
    plan: str
    plan_version: int
    lines: tuple[LineDoc, ...]
    total: str = _described(**MONEY)
    seat_equivalents: str = _described(**NUMBER)
    billed_seats: str = _described(**NUMBER)
    on_hold: bool = False
    contract: int
    created_at: str | None = _optional(**MOMENT)
    rated_at: str | None = _optional(**MOMENT)
    finalized_at: str | None = _optional(**MOMENT)
    paid_at: str | None = _optional(**MOMENT)
    voided_at: str | None = _optional(**MOMENT)
    payment_failed_at: str | None = _optional(**MOMENT)
    stripe_state: str | None = None
    stripe_invoice_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpcomingInvoiceDoc(InvoiceDoc):
    upcoming: bool = field(default=True, metadata={
        "help_text": "Always true: this invoice is not saved."})
    at: str = _described(**MOMENT)
    invoice: str | None = _described(
        **UUID, help_text="The period's saved invoice, when it already has one.")


def _tiers(raw: Iterable[Mapping[str, Any]], currency: str) -> tuple[TierDoc, ...]:
    return tuple(
        TierDoc(
            up_to=_number(t.get("up_to")), units=_number(t.get("units")),
            unit_price=_money(t.get("unit_price"), currency),
            flat_fee=_money(t.get("flat_fee"), currency),
            amount=_money(t.get("amount"), currency),
        )
        for t in raw
    )


def _line(source: Line | InvoiceLine, currency: str) -> LineDoc:
    tiers = source.tiers if isinstance(source, InvoiceLine) else tiers_json(source.tiers)
    return LineDoc(
        kind=source.kind,
        description=source.description,
        quantity=_number(source.quantity),
        unit_price=_money(source.unit_price, currency),
        amount=_money(source.amount, currency),
        metric=source.metric or None,
        value=_number(source.value),
        included=_number(source.included),
        billable=_number(source.billable),
        tiers=_tiers(tiers, currency),
        period_start=source.period_start.isoformat() if source.period_start else None,
        period_end=source.period_end.isoformat() if source.period_end else None,
    )


def invoice_document(invoice: Invoice) -> InvoiceDoc:
    """``invoice`` needs its customer, plan version (with plan) and lines loaded."""
    currency = invoice.currency
    return InvoiceDoc(
        id=str(invoice.pk),
        customer=invoice.customer.external_id,
        customer_name=invoice.customer.name,
        status=invoice.status,
        number=invoice.number,
        period_start=iso(invoice.period_start),
        period_end=iso(invoice.period_end),
        currency=currency,
        plan=invoice.plan_version.plan.code,
        plan_version=invoice.plan_version.version,
        lines=tuple(_line(row, currency) for row in invoice.lines.all()),
        total=_money(invoice.total, currency),
        seat_equivalents=_number(invoice.seat_equivalents),
        billed_seats=_number(invoice.billed_seats),
        on_hold=invoice.on_hold,
        contract=invoice.contract_id,
        created_at=iso(invoice.created_at),
        rated_at=iso(invoice.rated_at),
        finalized_at=iso(invoice.finalized_at),
        paid_at=iso(invoice.paid_at),
        voided_at=iso(invoice.voided_at),
        payment_failed_at=iso(invoice.payment_failed_at),
        stripe_state=invoice.stripe_state,
        stripe_invoice_id=invoice.stripe_invoice_id or None,
    )


def upcoming_document(upcoming: UpcomingInvoice, *, at: dt.datetime) -> UpcomingInvoiceDoc:
    rated = upcoming.rated
    currency = rated.currency
    return UpcomingInvoiceDoc(
        id=None,
        customer=upcoming.customer.external_id,
        customer_name=upcoming.customer.name,
        status=Invoice.Status.DRAFT,
        number=None,
        period_start=iso(upcoming.period.start_at),
        period_end=iso(upcoming.period.end_at),
        currency=currency,
        plan=upcoming.book.plan_code,
        plan_version=upcoming.book.version,
        lines=tuple(_line(line, currency) for line in rated.lines),
        total=_money(rated.total, currency),
        seat_equivalents=_number(rated.rated.seat_equivalents),
        billed_seats=_number(rated.rated.billed_seats),
        contract=upcoming.contract.pk,
        at=iso(at),
        invoice=str(upcoming.invoice_id) if upcoming.invoice_id is not None else None,
    )
