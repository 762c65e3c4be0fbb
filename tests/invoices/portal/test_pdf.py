"""The invoice as a PDF: the page's sheet on paper, read back with pypdf. Same bytes each
time, the same access rules as the page, and the same lines, arithmetic and total."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import reportlab
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from pypdf import PdfReader

from invoices.models import Invoice
from invoices.portal.pdf import PdfOptions, invoice_pdf
from invoices.portal.sheet import invoice_sheet
from invoices.selectors import invoice_get
from invoices.services import invoice_void

pytestmark = pytest.mark.django_db

VERA_BOLD = str(Path(reportlab.__file__).parent / "fonts" / "VeraBd.ttf")


def text_of(pdf: bytes) -> str:
    """Every page's text with runs of whitespace as one space (lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def staff(client):
    client.force_login(get_user_model().objects.create_user(
        "ops", password="pw-123456", is_staff=True))
    return client


@pytest.fixture(autouse=True)
def _acme_named(request):
    if "acme_invoice" in request.fixturenames:
        invoice = request.getfixturevalue("acme_invoice")
        type(invoice.customer).objects.filter(pk=invoice.customer_id).update(
            name="Acme Rockets Unlimited")


def sheet_of(invoice: Invoice, **issuer):
    return invoice_sheet(invoice_get(invoice_id=invoice.pk), **issuer)


def test_pdf_prints_the_pages_lines_arithmetic_and_total(acme_viewer, acme_invoice):
    response = acme_viewer.get(f"/invoices/{acme_invoice.pk}/invoice.pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-USD-000001.pdf"'
    assert response["Cache-Control"] == "private, no-cache"
    text = text_of(response.content)
    assert "Invoice USD-000001" in text and "FINALIZED" in text
    assert "Acme Rockets Unlimited (acme) billing@acme.test" in text
    assert "1 Oct – 31 Oct 2026" in text and "team v1" in text and "Issued 2 Nov 2026" in text
    assert "4.322581 seats × $40.00 = $172.90" in text
    assert "878 tasks completed over the 4,322 included (5,200 used) × $0.05 = $43.90" in text
    assert "Total (USD) $216.80" in text
    assert "DRAFT" not in text and "VOID" not in text
    assert PdfReader(io.BytesIO(response.content)).metadata.title == \
        "Invoice USD-000001 · Acme Rockets Unlimited"


def test_pdf_is_the_same_bytes_each_time(acme_invoice):
    sheet = sheet_of(acme_invoice)
    assert invoice_pdf(sheet) == invoice_pdf(sheet_of(acme_invoice))


def test_the_page_links_its_pdf_and_prints_the_issuer(acme_viewer, acme_invoice, settings):
    settings.INVOICE_ISSUER = ("Example AI Ltd", "1 Main Street", "VAT GB123456789")

    html = acme_viewer.get(f"/invoices/{acme_invoice.pk}/").content.decode()
    pdf = text_of(acme_viewer.get(f"/invoices/{acme_invoice.pk}/invoice.pdf").content)

    assert f'href="/invoices/{acme_invoice.pk}/invoice.pdf"' in html
    assert "<strong>Example AI Ltd</strong><br>1 Main Street<br>VAT GB123456789" in html
    assert "Example AI Ltd 1 Main Street VAT GB123456789" in pdf
    assert PdfReader(io.BytesIO(invoice_pdf(sheet_of(
        acme_invoice, issuer=settings.INVOICE_ISSUER)))).metadata.author == "Example AI Ltd"


def test_a_customer_never_gets_a_draft_pdf(acme_viewer, acme_invoice, make_invoice):
    draft = make_invoice(customer=acme_invoice.customer, status=Invoice.Status.DRAFT)
    assert acme_viewer.get(f"/invoices/{draft.pk}/invoice.pdf").status_code == 404


def test_pdf_needs_a_login(client, acme_invoice):
    response = client.get(f"/invoices/{acme_invoice.pk}/invoice.pdf")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_get_a_draft_marked_draft_on_every_page(staff, make_invoice):
    draft = make_invoice([f"{n}.00" for n in range(1, 90)], status=Invoice.Status.DRAFT)

    response = staff.get(f"/invoices/{draft.pk}/invoice.pdf")

    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 2
    assert response["Content-Disposition"] == \
        f'attachment; filename="draft-invoice-{draft.pk}.pdf"'
    for number, page in enumerate(reader.pages, start=1):
        text = " ".join(page.extract_text().split())
        assert "DRAFT" in text and f"Page {number}" in text
        assert "LINE AMOUNT" in text  # the table's heading repeats on each page
    text = text_of(response.content)
    assert "Draft invoice" in text and "it may still change until it is finalized" in text
    assert "Total (USD) $4,005.00" in text  # 1 + 2 + … + 89


def test_a_void_invoice_is_marked_void(acme_invoice, make_invoice):
    voided = invoice_void(invoice=acme_invoice, now=acme_invoice.finalized_at)
    text = text_of(invoice_pdf(sheet_of(voided)))
    assert "VOID" in text and "Voided 2 Nov 2026" in text


def test_characters_the_font_cannot_draw_are_replaced_not_boxed(acme_invoice):
    sheet = dataclasses.replace(sheet_of(acme_invoice), customer_name="株式会社 Acme & <Co>",
                                total="₹216.80")

    text = text_of(invoice_pdf(sheet))

    assert "???? Acme & <Co> (acme)" in text
    assert "Total (USD) INR 216.80" in text


def test_a_configured_font_and_letter_paper_are_used(acme_invoice):
    pdf = invoice_pdf(sheet_of(acme_invoice),
                      options=PdfOptions(page_size="LETTER", font=VERA_BOLD))

    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (612, 792)
    fonts = {str(font["/BaseFont"]) for font in page["/Resources"]["/Font"].values()}
    assert len(fonts) == 1 and "Total (USD) $216.80" in text_of(pdf)


def test_a_font_that_cannot_be_read_stops_the_start(settings, tmp_path):
    settings.INVOICE_PDF_FONT = str(tmp_path / "missing.ttf")
    with pytest.raises(SystemCheckError, match="INVOICE_PDF_FONT"):
        call_command("check")
    not_a_font = tmp_path / "notes.ttf"
    not_a_font.write_text("not a font")
    settings.INVOICE_PDF_FONT, settings.INVOICE_PDF_FONT_BOLD = VERA_BOLD, str(not_a_font)
    with pytest.raises(SystemCheckError, match="INVOICE_PDF_FONT_BOLD"):
        call_command("check")
