"""Invoice lines as database rows and back, and the fingerprint that tells whether a
re-rated draft's lines changed."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from invoices.models import InvoiceLine
from invoices.rating import Line, TierUsage


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def tiers_json(tiers: Sequence[TierUsage]) -> list[dict[str, str | None]]:
    return [
        {"up_to": _dec(t.up_to), "units": _dec(t.units), "unit_price": _dec(t.unit_price),
         "flat_fee": _dec(t.flat_fee), "amount": _dec(t.amount)}
        for t in tiers
    ]


def line_row(invoice_id: Any, position: int, line: Line) -> dict[str, Any]:
    """An ``InvoiceLine`` as a row (attname → value), ready for a bulk insert."""
    return {
        "invoice_id": invoice_id,
        "position": position,
        "kind": line.kind,
        "description": line.description[:500],
        "metric": line.metric or "",
        "charge_key": line.charge_key or "",
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "value": line.value,
        "included": line.included,
        "billable": line.billable,
        "tiers": tiers_json(line.tiers),
        "amount": line.amount,
        "period_start": line.period_start,
        "period_end": line.period_end,
    }


def _num(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def line_fingerprint(line: Line) -> tuple:
    return (
        line.kind, line.description[:500], line.metric or "", line.charge_key or "",
        _num(line.quantity), _num(line.unit_price), _num(line.value), _num(line.included),
        _num(line.billable), tiers_json(line.tiers), _num(line.amount), line.period_start,
        line.period_end,
    )


def line_fingerprint_of_row(row: InvoiceLine) -> tuple:
    return (
        row.kind, row.description, row.metric, row.charge_key, _num(row.quantity),
        _num(row.unit_price), _num(row.value), _num(row.included), _num(row.billable),
        row.tiers, _num(row.amount), row.period_start, row.period_end,
    )


def line_from_row(row: InvoiceLine) -> Line:
    return Line(
        kind=row.kind, description=row.description, amount=row.amount, quantity=row.quantity,
        unit_price=row.unit_price, metric=row.metric or None, charge_key=row.charge_key or None,
        value=row.value, included=row.included, billable=row.billable,
        period_start=row.period_start, period_end=row.period_end,
    )
