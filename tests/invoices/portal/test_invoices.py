"""The portal's invoice list and invoice page, as a customer's user reads them."""

import datetime as dt

import pytest

from invoices.models import Invoice
from invoices.portal.invoices import INVOICES_PER_PAGE
from invoices.services import invoice_finalize, invoice_void
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db


def test_list_shows_the_customers_invoices_in_words(acme_viewer, acme_invoice):
    html = acme_viewer.get("/invoices/").content.decode()

    assert "USD-000001" in html and "1 Oct – 31 Oct 2026" in html
    assert "$216.80" in html and "Finalized" in html
    assert f'href="/invoices/{acme_invoice.pk}/"' in html
    assert f'href="/invoices/{acme_invoice.pk}/invoice.pdf" download' in html


def test_list_leaves_out_drafts_and_keeps_void_and_paid_newest_first(acme_viewer, acme_invoice):
    contract = acme_invoice.contract
    draft = InvoiceFactory(customer=acme_invoice.customer, contract=contract,
                           plan_version=acme_invoice.plan_version,
                           period_start=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                           period_end=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    older = InvoiceFactory(customer=acme_invoice.customer, contract=contract,
                           plan_version=acme_invoice.plan_version, status=Invoice.Status.DRAFT,
                           period_start=dt.datetime(2026, 9, 1, tzinfo=dt.UTC),
                           period_end=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    older = invoice_finalize(invoice=older, now=dt.datetime(2026, 10, 2, tzinfo=dt.UTC))
    invoice_void(invoice=older, now=dt.datetime(2026, 10, 3, tzinfo=dt.UTC))

    response = acme_viewer.get("/invoices/")
    rows = [row["invoice"].pk for row in response.context["rows"]]

    assert rows == [acme_invoice.pk, older.pk]
    assert draft.pk not in rows and "Void" in response.content.decode()


def test_list_is_paginated(acme_viewer, acme_invoice, monkeypatch):
    monkeypatch.setattr("invoices.portal.invoices.INVOICES_PER_PAGE", 1)
    assert INVOICES_PER_PAGE == 25
    response = acme_viewer.get("/invoices/?page=1")
    assert response.context["page"].paginator.per_page == 1
    assert acme_viewer.get("/invoices/?page=99").status_code == 200  # the last page


def test_invoice_page_reads_in_words_and_links_each_usage_line_to_its_events(
        acme_viewer, acme_invoice):
    html = acme_viewer.get(f"/invoices/{acme_invoice.pk}/").content.decode()

    assert "4.322581 seats × $40.00 = $172.90" in html
    assert "878 tasks completed over the 4,322 included (5,200 used) × $0.05 = $43.90" in html
    assert "1 Oct – 31 Oct 2026" in html and "exclusive" not in html
    usage = acme_invoice.lines.get(kind="usage")
    assert f"/invoices/{acme_invoice.pk}/lines/{usage.position}/events.csv" in html
    seat = acme_invoice.lines.get(kind="seat")
    assert f"/lines/{seat.position}/events.csv" not in html
    assert 'href="/invoices/"' in html
