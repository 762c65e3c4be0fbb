"""Fixtures for the Stripe sync and webhook tests: the local Stripe-compatible server
(tests/fakestripe), driven by the real ``stripe`` SDK over HTTP, and finalized invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from stripe._http_client import HTTPClient

from invoices.models import Invoice, InvoiceLine
from plans.models import Contract
from tests.factories import ContractFactory, CustomerFactory, InvoiceFactory, make_version
from tests.fakestripe import FakeStripe

WEBHOOK_SECRET = "whsec_test"
# The client gives up before the fake's "timeout_after_write" answers (1.5 s).
CLIENT_TIMEOUT = 1.0


@pytest.fixture(scope="session")
def _fake_stripe_server():
    with FakeStripe(timeout_fault_delay=CLIENT_TIMEOUT + 0.5) as server:
        yield server


@pytest.fixture
def fake_stripe(_fake_stripe_server, monkeypatch) -> FakeStripe:
    """The running fake, emptied; fails the test if the fake itself hit a bug."""
    _fake_stripe_server.reset()
    # The SDK sleeps 0.5 s, 1 s … between its own retries; that pacing is for real
    # Stripe, not behaviour under test.
    monkeypatch.setattr(HTTPClient, "INITIAL_DELAY", 0.01)
    monkeypatch.setattr(HTTPClient, "MAX_DELAY", 0.02)
    yield _fake_stripe_server
    assert _fake_stripe_server.errors == [], _fake_stripe_server.errors[0]


@pytest.fixture
def stripe_settings(settings, fake_stripe):
    settings.STRIPE_API_KEY = fake_stripe.api_key
    settings.STRIPE_API_BASE = fake_stripe.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_HTTP_TIMEOUT = CLIENT_TIMEOUT
    return settings


@pytest.fixture
def make_invoice(db) -> Callable[..., Invoice]:
    """``make_invoice(["40.00", "-5.00"], currency="USD", customer=None, status="finalized")``:
    an invoice with one line per amount (positions 1, 2, …), numbered and finalized; other
    keywords go to ``InvoiceFactory`` (e.g. ``id``)."""
    numbers = iter(range(1, 10_000))

    def build(amounts=("40.00",), *, currency: str = "USD", customer=None,
              status: str = Invoice.Status.FINALIZED, stripe_state: str = "not_synced",
              finalized_at: dt.datetime | None = None, **fields) -> Invoice:
        customer = customer or CustomerFactory(currency=currency)
        contract = Contract.objects.filter(customer=customer).first() or ContractFactory(
            customer=customer, plan_version=make_version(currency=currency)
        )
        n = next(numbers)
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=31 * n)
        invoice = InvoiceFactory(customer=customer, contract=contract, currency=currency,
                                 period_start=start, period_end=start + dt.timedelta(days=31),
                                 **fields)
        kinds = {True: InvoiceLine.Kind.DISCOUNT, False: InvoiceLine.Kind.BASE_FEE}
        lines = [
            InvoiceLine(invoice=invoice, position=position, kind=kinds[Decimal(amount) < 0],
                        description=f"Line {position}", amount=Decimal(amount))
            for position, amount in enumerate(amounts, start=1)
        ]
        InvoiceLine.objects.bulk_create(lines)
        total = sum((Decimal(a) for a in amounts), Decimal(0))
        number = f"{currency}-{n:06d}-{str(invoice.pk)[:4]}"
        changes = {"total": total, "stripe_state": stripe_state}
        finalized_at = finalized_at or dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
        if status != Invoice.Status.DRAFT:
            changes.update(status=Invoice.Status.FINALIZED, number=number,
                           finalized_at=finalized_at)
        Invoice.objects.filter(pk=invoice.pk).update(**changes)
        # Paid and void carry their timestamp (the invoice_*_iff_* CHECK constraints).
        moved_on = {Invoice.Status.PAID: "paid_at", Invoice.Status.VOID: "voided_at"}
        if status in moved_on:
            Invoice.objects.filter(pk=invoice.pk).update(
                status=status, **{moved_on[status]: finalized_at + dt.timedelta(days=1)})
        return Invoice.objects.get(pk=invoice.pk)

    return build
