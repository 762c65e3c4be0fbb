"""Ops admin for invoices and billing runs: filters, search, read-only pages, actions that
call services and report errors as messages."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from invoices.models import BillingRun, Invoice
from invoices.services import billing_run, invoice_finalize, invoice_mark_paid
from tests.invoices.billing_fixtures import add_events, at, team_version, worked_example

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/invoices/invoice/"


@pytest.fixture
def invoices() -> list[Invoice]:
    version = team_version()
    for name in ("alpha", "beta"):
        worked_example(external_id=name, version=version)
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return list(Invoice.objects.order_by("customer__external_id"))


def act(admin_client, action: str, invoices: list[Invoice]):
    response = admin_client.post(CHANGELIST, {
        "action": action, "_selected_action": [str(i.pk) for i in invoices]}, follow=True)
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_filters_and_search(admin_client, invoices):
    invoice_finalize(invoice=invoices[0], now=at(2026, 11, 2))

    assert admin_client.get(CHANGELIST).status_code == 200
    drafts = admin_client.get(CHANGELIST, {"status__exact": "draft"}).content.decode()
    by_number = admin_client.get(CHANGELIST, {"q": "USD-000001"}).content.decode()
    by_customer = admin_client.get(CHANGELIST, {"q": "beta"}).content.decode()
    by_period = admin_client.get(CHANGELIST, {"period": "2026-10"})
    for params in ({"currency": "USD"}, {"stripe_state__exact": "off"},
                   {"on_hold__exact": "0"}):
        assert admin_client.get(CHANGELIST, params).status_code == 200

    assert "beta" in drafts and "alpha" not in drafts
    assert "alpha" in by_number and "beta" not in by_number
    assert "beta" in by_customer
    assert by_period.status_code == 200 and by_period.context["cl"].result_count == 2


def test_finalize_action_numbers_drafts_and_reports_refusals(admin_client, invoices):
    invoice_finalize(invoice=invoices[0], now=at(2026, 11, 2))

    notes = act(admin_client, "finalize", invoices)

    assert any("1 invoice(s) finalized" in n for n in notes)
    assert any("only draft invoices can be finalized" in n for n in notes)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [
        "USD-000001", "USD-000002"]


def test_void_action_refuses_paid_invoices(admin_client, invoices):
    paid = invoice_mark_paid(invoice=invoice_finalize(invoice=invoices[0], now=at(2026, 11, 2)),
                             paid_at=at(2026, 11, 3))

    notes = act(admin_client, "void", invoices)

    assert any("paid" in n for n in notes) and any("1 invoice(s) voided" in n for n in notes)
    paid.refresh_from_db()
    assert paid.status == "paid"


def test_hold_release_and_rerate_actions(admin_client, invoices):
    act(admin_client, "hold", invoices[:1])
    assert Invoice.objects.get(pk=invoices[0].pk).on_hold

    add_events(invoices[0].customer, count=20, when=at(2026, 10, 30))
    notes = act(admin_client, "rerate", invoices[:1])
    assert any("re-rated" in n for n in notes)
    assert str(Invoice.objects.get(pk=invoices[0].pk).total) == "217.8000000000"

    act(admin_client, "release_hold", invoices[:1])
    assert not Invoice.objects.get(pk=invoices[0].pk).on_hold


def test_change_page_is_read_only_and_shows_lines(admin_client, invoices):
    invoice = invoice_finalize(invoice=invoices[0], now=at(2026, 11, 2))
    url = f"{CHANGELIST}{invoice.pk}/change/"

    page = admin_client.get(url)
    admin_client.post(url, {"total": "1"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "172.90" in html and "Printable invoice" in html
    assert f'href="/invoices/{invoice.pk}/invoice.pdf" download' in html
    assert 'name="_save"' not in html
    invoice.refresh_from_db()
    assert str(invoice.total) == "216.8000000000"


def test_only_drafts_can_be_deleted(admin_client, invoices):
    finalized = invoice_finalize(invoice=invoices[0], now=at(2026, 11, 2))

    assert admin_client.get(f"{CHANGELIST}{finalized.pk}/delete/").status_code == 403
    admin_client.post(f"{CHANGELIST}{invoices[1].pk}/delete/", {"post": "yes"})
    assert list(Invoice.objects.values_list("pk", flat=True)) == [finalized.pk]


def test_billing_run_admin_shows_failures(admin_client):
    run = BillingRun.objects.create(
        as_of=at(2026, 11, 1, 1), requested_at=at(2026, 11, 1, 1), started_at=at(2026, 11, 1, 1),
        status="failed",
        failures=[{"customer": "acme", "error": "RuntimeError: boom"}])

    listing = admin_client.get("/admin/invoices/billingrun/").content.decode()
    detail = admin_client.get(f"/admin/invoices/billingrun/{run.pk}/change/").content.decode()

    assert "Done with failures" in listing
    assert "acme" in detail and "RuntimeError: boom" in detail
