"""The invoice and contract events the outbound webhooks send (docs/webhooks.md): each
published in the transaction of the change, once per event however often it runs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import transaction
from django.test import Client

from accounts.outbound.models import Delivery
from accounts.outbound.services import endpoint_create
from invoices.models import Invoice
from invoices.services import invoice_finalize, invoice_void
from invoices.services.lifecycle import invoice_mark_paid
from invoices.stripe.sync import stripe_sync_invoice
from plans.services import (
    contract_cancel_migration,
    contract_renew_due,
    contract_schedule_migration,
)
from tests.accounts.outbound.receiver import start_receiver
from tests.factories import InvoiceFactory, make_version
from tests.fakestripe import make_event, sign_webhook_payload
from tests.invoices.billing_fixtures import worked_example
from tests.invoices.conftest import WEBHOOK_SECRET

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooked(receiver):
    endpoint_create(name="warehouse", url=receiver.url)
    return receiver


def events(receiver) -> list[tuple[str, str]]:
    return [(json.loads(r.body)["type"], json.loads(r.body)["id"]) for r in receiver.requests]


def test_finalizing_voiding_and_paying_send_one_event_each(
        hooked, django_capture_on_commit_callbacks):
    draft = InvoiceFactory(status=Invoice.Status.DRAFT, total="212.5")
    other = InvoiceFactory(status=Invoice.Status.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_finalize(invoice=draft, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_mark_paid(invoice=invoice, paid_at=NOW + dt.timedelta(days=1))
        invoice_mark_paid(invoice=invoice, paid_at=NOW + dt.timedelta(days=2))  # idempotent
    with django_capture_on_commit_callbacks(execute=True):
        invoice_void(invoice=other, now=NOW)
    assert events(hooked) == [
        ("invoice.finalized", f"invoice.finalized:{draft.pk}"),
        ("invoice.paid", f"invoice.paid:{draft.pk}"),
        ("invoice.voided", f"invoice.voided:{other.pk}"),
    ]
    data = json.loads(hooked.requests[0].body)["data"]["invoice"]
    assert data | {} == {
        "id": str(draft.pk), "number": invoice.number, "customer": draft.customer.external_id,
        "customer_name": draft.customer.name, "status": "finalized", "currency": "USD",
        "total": "212.50", "period_start": data["period_start"], "period_end": data["period_end"],
        "finalized_at": "2026-11-15T12:00:00Z", "paid_at": None, "voided_at": None,
    }
    assert json.loads(hooked.requests[1].body)["data"]["invoice"]["paid_at"] == (
        "2026-11-16T12:00:00Z")


def test_a_rolled_back_finalize_sends_nothing(hooked, django_capture_on_commit_callbacks):
    draft = InvoiceFactory(status=Invoice.Status.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                invoice_finalize(invoice=draft, now=NOW)
                raise RuntimeError("the caller failed after finalizing")
        except RuntimeError:
            pass
    assert Delivery.objects.count() == 0
    assert hooked.requests == []


def test_stripe_paid_webhook_sends_invoice_paid(
        hooked, stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks):
    synced = stripe_sync_invoice(invoice=make_invoice(["40.00"]), now=NOW)
    from invoices.stripe.steps import stripe_client
    stripe_client().v1.invoices.pay(synced.stripe_invoice_id, {"paid_out_of_band": True})
    payload = json.dumps(make_event("invoice.paid", fake_stripe.get(synced.stripe_invoice_id)))
    for _ in range(2):  # Stripe retries its webhooks: still one event for our receiver
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(
                "/stripe/webhook/", data=payload.encode(), content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign_webhook_payload(payload.encode(), WEBHOOK_SECRET))
        assert response.status_code == 200
    assert events(hooked) == [("invoice.paid", f"invoice.paid:{synced.pk}")]


def test_renewing_a_contract_sends_contract_renewed_once(
        hooked, django_capture_on_commit_callbacks):
    contract = worked_example(tasks=0, end_date=dt.date(2026, 10, 31))
    later = dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        (renewed,) = contract_renew_due(now=later)
    with django_capture_on_commit_callbacks(execute=True):
        assert contract_renew_due(now=later) == []
    assert events(hooked) == [("contract.renewed", f"contract.renewed:{renewed.pk}")]
    body = json.loads(hooked.requests[0].body)["data"]
    assert body["renewed_from"] == contract.pk
    assert body["contract"]["start_date"] == "2026-11-01"


def schedule_january(capture):
    """The worked example's contract, moved to a new version from January 2027."""
    contract = worked_example(tasks=0)
    v2 = make_version(plan=contract.plan_version.plan, effective_from=dt.date(2026, 11, 1),
                      seat_price="30.00")
    with capture(execute=True):
        migration = contract_schedule_migration(contract=contract, plan_version=v2,
                                                effective_date=dt.date(2027, 1, 1),
                                                today=dt.date(2026, 11, 15))
    return contract, v2, migration


def test_scheduling_a_migration_sends_migration_scheduled(
        hooked, django_capture_on_commit_callbacks):
    contract, v2, migration = schedule_january(django_capture_on_commit_callbacks)
    assert events(hooked) == [("migration.scheduled", f"migration.scheduled:{migration.pk}")]
    data = json.loads(hooked.requests[0].body)["data"]["migration"]
    assert data["effective_date"] == "2027-01-01"
    assert data["from_plan_version"]["id"] == contract.plan_version_id
    assert data["to_plan_version"]["id"] == v2.pk


def test_canceling_a_migration_sends_migration_canceled_once(
        hooked, django_capture_on_commit_callbacks):
    contract, v2, migration = schedule_january(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        contract_cancel_migration(migration=migration, today=dt.date(2026, 11, 20))
    with django_capture_on_commit_callbacks(execute=True):
        contract_cancel_migration(migration=migration, today=dt.date(2026, 11, 21))  # no-op
    assert events(hooked) == [("migration.scheduled", f"migration.scheduled:{migration.pk}"),
                              ("migration.canceled", f"migration.canceled:{migration.pk}")]
    data = json.loads(hooked.requests[1].body)["data"]["migration"]
    assert (data["status"], data["canceled_on"], data["effective_date"]) == (
        "canceled", "2026-11-20", "2027-01-01")
    assert data["to_plan_version"]["id"] == v2.pk
