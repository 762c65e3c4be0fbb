"""Line kinds and invoice statuses have one spelling: the pure engine's enums, which the
models store."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from invoices.models import Invoice, InvoiceLine
from invoices.rating import ChargeTerms, LineKind, Terms, late_usage_lines, rate_period
from invoices.rating.types import InvoiceStatus
from plans.periods import Period

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def test_invoice_lines_store_exactly_the_kinds_the_engine_rates():
    assert InvoiceLine.Kind.values == [kind.value for kind in LineKind]


def test_invoices_store_exactly_the_statuses_planning_and_late_usage_read():
    assert Invoice.Status.values == [status.value for status in InvoiceStatus]


def test_every_line_the_engine_makes_is_named_by_a_line_kind():
    tasks = ChargeTerms("tasks", "tasks", "per_unit", unit_price=D(1))
    capped = Terms("USD", D(10), D(5), (tasks,), committed_seats=1, overage_cap=D(50),
                   discount_percent=D(10))
    floored = Terms("USD", D(0), D(0), (tasks,), minimum_commitment=D(100))

    lines = [
        *rate_period(terms=capped, seats=(), usage={"tasks": D(80)}, period=OCTOBER).lines,
        *rate_period(terms=floored, seats=(), usage={"tasks": D(3)}, period=OCTOBER).lines,
        *late_usage_lines(terms=floored, seats=(), usage_before={"tasks": D(3)},
                          usage_after={"tasks": D(200)}, period=OCTOBER),
    ]

    assert {line.kind for line in lines} == set(LineKind)
    assert all(type(line.kind) is LineKind for line in lines)
