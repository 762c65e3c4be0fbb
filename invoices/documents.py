"""One presentation of an invoice for the API, the HTML page and the admin.

A saved invoice and an upcoming (unsaved) one read the same: money as decimal strings
with the currency's minor units (``"172.90"``), quantities and units without padding
(``"4.322581"``, ``"5200"``), times in ISO 8601 UTC (SPEC 6-7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.api.fields import format_decimal, format_moment, format_money
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


@dataclass(frozen=True)
class TierDoc:
    up_to: str | None
    units: str | None
    unit_price: str | None
    flat_fee: str | None
    amount: str | None

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class LineDoc:
    kind: str
    description: str
    quantity: str | None
    unit_price: str | None
    amount: str
    metric: str | None
    value: str | None
    included: str | None
    billable: str | None
    tiers: tuple[TierDoc, ...]
    period_start: str | None
    period_end: str | None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["tiers"] = [tier.as_dict() for tier in self.tiers]
        return data


@dataclass(frozen=True)
class InvoiceDoc:
    id: str | None
    customer: str
    customer_name: str
    status: str
    number: str | None
    period_start: str
    period_end: str
    currency: str
    plan: str
    plan_version: int
    lines: tuple[LineDoc, ...]
    total: str
    seat_equivalents: str
    billed_seats: str
    on_hold: bool = False
    contract: int | None = None
    created_at: str | None = None
    rated_at: str | None = None
    finalized_at: str | None = None
    paid_at: str | None = None
    voided_at: str | None = None
    payment_failed_at: str | None = None
    stripe_state: str | None = None
    stripe_invoice_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("extra", "customer_name")}
        data["lines"] = [line.as_dict() for line in self.lines]
        data.update(self.extra)
        return data


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


def upcoming_document(upcoming: UpcomingInvoice, *, at: dt.datetime) -> InvoiceDoc:
    rated = upcoming.rated
    currency = rated.currency
    return InvoiceDoc(
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
        extra={
            "upcoming": True,
            "at": iso(at),
            "invoice": str(upcoming.invoice_id) if upcoming.invoice_id is not None else None,
        },
    )
