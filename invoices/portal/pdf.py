"""The invoice as a PDF file: the same sheet as the HTML page (``invoices/portal/sheet.py``),
laid out for paper with reportlab, for the customer's accounts team to file.

The output is byte-for-byte the same for the same invoice (reportlab's invariant mode: no
creation time, no random document id), so a finalized invoice's PDF never changes either.
Text is drawn in one TrueType font embedded in the file (reportlab's bundled Vera unless
``INVOICE_PDF_FONT`` names another); a character the font cannot draw is replaced (a
currency symbol by its code, anything else by "?") rather than printed as an empty box.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from django.conf import settings
from django.http import HttpResponse
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from invoices.models import Invoice
from invoices.portal.sheet import InvoiceSheet, invoice_sheet

PAGE_SIZES = {"A4": A4, "LETTER": LETTER}
_VERA = Path(reportlab.__file__).parent / "fonts"
# What to print when the font lacks a glyph: readable, and never mistaken for another amount.
FALLBACKS = {"₹": "INR ", "₩": "KRW ", "−": "-", "–": "-", "×": "x", "→": "->", "…": "..."}

INK = colors.HexColor("#1d232a")
MUTED = colors.HexColor("#5b6672")
RULE = colors.HexColor("#d9dee3")
STATUS_COLOURS = {"draft": "#8a6100", "finalized": "#2456a6", "paid": "#1e7b34",
                  "void": "#a12626"}


@dataclass(frozen=True)
class PdfOptions:
    page_size: str = "A4"
    font: str = ""  # a TrueType file; "" is Vera
    font_bold: str = ""  # "" is the regular font's bold sibling when Vera, else the font

    @classmethod
    def from_settings(cls) -> PdfOptions:
        return cls(page_size=settings.INVOICE_PDF_PAGE_SIZE, font=settings.INVOICE_PDF_FONT,
                   font_bold=settings.INVOICE_PDF_FONT_BOLD)


@dataclass(frozen=True)
class _Face:
    name: str  # as registered with reportlab
    glyphs: frozenset[int]

    def drawable(self, text: str) -> str:
        out = []
        for char in text:
            if ord(char) in self.glyphs or char in "\n\t ":
                out.append(char)
            else:
                fallback = FALLBACKS.get(char, "?")
                out.append(fallback if all(ord(c) in self.glyphs for c in fallback) else "?")
        return "".join(out)


@functools.lru_cache(maxsize=8)
def _face(path: str) -> _Face:
    # Registered under a name from its path, once per process (reportlab's registry is global).
    name = "F" + hashlib.sha1(path.encode()).hexdigest()[:12]
    font = TTFont(name, path)
    pdfmetrics.registerFont(font)
    return _Face(name, frozenset(font.face.charToGlyph))


def _faces(options: PdfOptions) -> tuple[_Face, _Face]:
    regular = options.font or str(_VERA / "Vera.ttf")
    bold = options.font_bold or (str(_VERA / "VeraBd.ttf") if not options.font else regular)
    return _face(regular), _face(bold)


def invoice_pdf(sheet: InvoiceSheet, *, options: PdfOptions | None = None) -> bytes:
    options = options or PdfOptions()
    regular, bold = _faces(options)
    layout = _Layout(sheet, regular, bold)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE_SIZES[options.page_size],
        leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm, bottomMargin=20 * mm,
        title=regular.drawable(f"{sheet.title} · {sheet.customer_name}"),
        author=regular.drawable(sheet.issuer[0]) if sheet.issuer else "",
        subject=regular.drawable(f"{sheet.period} · {sheet.document.currency}"),
        creator="billing back office", invariant=1, initialFontName=regular.name,
    )
    # The frame pads its content by 6 pt on each side: a table as wide as the margins allow
    # would stick out of it.
    document.build(layout.story(document.width - 12), onFirstPage=layout.decorate,
                   onLaterPages=layout.decorate)
    return buffer.getvalue()


class _Layout:
    def __init__(self, sheet: InvoiceSheet, regular: _Face, bold: _Face):
        self.sheet, self.regular, self.bold = sheet, regular, bold
        self.body = ParagraphStyle("body", fontName=regular.name, fontSize=9.5, leading=13,
                                   textColor=INK)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8.5, leading=11.5,
                                    textColor=MUTED)
        self.strong = ParagraphStyle("strong", parent=self.body, fontName=bold.name)
        self.amount = ParagraphStyle("amount", parent=self.body, alignment=TA_RIGHT)
        self.heading = ParagraphStyle("heading", parent=self.strong, fontSize=18, leading=22)
        self.label = ParagraphStyle("label", parent=self.small, fontSize=8, leading=10)

    def _p(self, text: str, style: ParagraphStyle) -> Paragraph:
        face = self.bold if style.fontName == self.bold.name else self.regular
        return Paragraph(escape(face.drawable(text)).replace("\n", "<br/>"), style)

    def story(self, width: float) -> list:
        return [self._header(width), Spacer(0, 8 * mm), self._meta(width), Spacer(0, 8 * mm),
                self._lines(width), Spacer(0, 6 * mm), self._note()]

    def _header(self, width: float) -> Table:
        sheet = self.sheet
        status = sheet.document.status
        badge = ParagraphStyle("status", parent=self.label, fontName=self.bold.name,
                               textColor=colors.HexColor(STATUS_COLOURS.get(status, "#5b6672")))
        left = [self._p(sheet.title, self.heading),
                self._p(status.upper() + ("  ·  ON HOLD" if sheet.document.on_hold else ""),
                        badge)]
        right = [self._p(line, self._right(self.strong if i == 0 else self.small))
                 for i, line in enumerate(sheet.issuer)]
        return self._table([[left, right or ""]], [width * 0.55, width * 0.45])

    def _meta(self, width: float) -> Table:
        sheet, doc = self.sheet, self.sheet.document
        bill_to = f"{sheet.customer_name} ({doc.customer})"
        rows = [("Bill to", f"{bill_to}\n{sheet.customer_email}" if sheet.customer_email
                 else bill_to),
                ("Period", sheet.period),
                ("Plan", f"{doc.plan} v{doc.plan_version}"),
                ("Currency", doc.currency)]
        rows += [(label, value) for label, value in (
            ("Issued", sheet.finalized_on), ("Paid", sheet.paid_on),
            ("Voided", sheet.voided_on)) if value]
        return self._table([[self._p(label, self.label), self._p(value, self.body)]
                            for label, value in rows], [28 * mm, width - 28 * mm],
                           ("TOPPADDING", (0, 0), (-1, -1), 1),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 1))

    def _lines(self, width: float) -> Table:
        sheet = self.sheet
        rows = [[self._p("LINE", self.label), self._p("AMOUNT", self._right(self.label))]]
        for line in sheet.lines:
            cell = [self._p(line.title, self.strong), self._p(line.arithmetic, self.small)]
            cell += [self._p(f"• {step}", self.small) for step in line.steps]
            rows.append([cell, self._p(line.amount, self.amount)])
        if not sheet.lines:
            rows.append([self._p("No lines.", self.small), ""])
        total_style = ParagraphStyle("total", parent=self.strong, fontSize=11, leading=14)
        rows.append([self._p(f"Total ({sheet.document.currency})", total_style),
                     self._p(sheet.total, self._right(total_style))])
        return self._table(rows, [width - 38 * mm, 38 * mm],
                           ("TOPPADDING", (0, 0), (-1, -1), 5),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                           ("LINEBELOW", (0, 0), (-1, -2), 0.5, RULE),
                           ("LINEABOVE", (0, -1), (-1, -1), 1, INK),
                           repeat_rows=1)

    def _table(self, rows: list, widths: list[float], *style: tuple,
               repeat_rows: int = 0) -> Table:
        table = Table(rows, colWidths=widths, repeatRows=repeat_rows)
        # FONTNAME too: a plain-string cell (even "") is drawn in Helvetica otherwise.
        table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), self.regular.name),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 0), *style]))
        return table

    def _note(self) -> Paragraph:
        currency = self.sheet.document.currency
        text = (f"Each line is rounded half-up to the smallest unit of {currency}; the total "
                "is the sum of the rounded lines.")
        if self.sheet.document.status == Invoice.Status.DRAFT:
            text += " This is a draft: it may still change until it is finalized."
        return self._p(text, self.small)

    @staticmethod
    def _right(style: ParagraphStyle) -> ParagraphStyle:
        return ParagraphStyle(style.name + "-right", parent=style, alignment=TA_RIGHT)

    def decorate(self, canvas, document) -> None:
        """Every page: a footer naming the invoice, and DRAFT or VOID across a page that
        is not a bill to pay."""
        sheet = self.sheet
        width, _height = document.pagesize
        canvas.saveState()
        canvas.setFont(self.regular.name, 8)
        canvas.setFillColor(MUTED)
        footer = f"{sheet.title} · {sheet.customer_name} · {sheet.period}"
        canvas.drawString(document.leftMargin + 6, 10 * mm, self.regular.drawable(footer))
        canvas.drawRightString(width - document.rightMargin - 6, 10 * mm,
                               f"Page {canvas.getPageNumber()}")
        mark = {"draft": "DRAFT", "void": "VOID"}.get(sheet.document.status)
        if mark:
            canvas.setFont(self.bold.name, 96)
            canvas.setFillColor(colors.Color(0.63, 0.15, 0.15, alpha=0.12))
            canvas.translate(width / 2, document.pagesize[1] / 2)
            canvas.rotate(35)
            canvas.drawCentredString(0, 0, mark)
        canvas.restoreState()


def invoice_pdf_response(invoice: Invoice) -> HttpResponse:
    """The download: ``invoice-USD-000001.pdf``, never cached by a shared cache."""
    sheet = invoice_sheet(invoice, issuer=settings.INVOICE_ISSUER)
    response = HttpResponse(invoice_pdf(sheet, options=PdfOptions.from_settings()),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{sheet.filename}"'
    response["Cache-Control"] = "private, no-cache"
    return response
