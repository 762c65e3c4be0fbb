"""One invoice as people read it, for the HTML page and the PDF alike: the document
(``invoices.documents``), each line's arithmetic in words (``wording``), the days it
covers and who issued it. Both renderings read this, so they cannot tell different stories.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from invoices.documents import InvoiceDoc, invoice_document
from invoices.models import Invoice
from invoices.portal import wording
from plans.selectors import metric_list

_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, kw_only=True)
class InvoiceSheet:
    document: InvoiceDoc
    customer_name: str
    customer_email: str
    period: str  # "1 Oct – 31 Oct 2026"
    lines: tuple[wording.LineWords, ...]
    total: str  # "$216.80"
    finalized_on: str | None
    paid_on: str | None
    voided_on: str | None
    issuer: tuple[str, ...]  # name first, then address and tax lines; may be empty

    @property
    def title(self) -> str:
        number = self.document.number
        return f"Invoice {number}" if number else "Draft invoice"

    @property
    def filename(self) -> str:
        name = f"invoice-{self.document.number}" if self.document.number \
            else f"draft-invoice-{self.document.id}"
        return _UNSAFE_IN_FILENAME.sub("-", name) + ".pdf"


def invoice_sheet(invoice: Invoice, *, issuer: Sequence[str] = ()) -> InvoiceSheet:
    """``invoice`` as ``invoice_get`` loads it (customer, plan version and lines)."""
    document = invoice_document(invoice)
    names = dict(metric_list().values_list("code", "name"))
    return InvoiceSheet(
        document=document,
        customer_name=invoice.customer.name,
        customer_email=invoice.customer.email,
        period=wording.period(_utc_day(invoice.period_start), _utc_day(invoice.period_end)),
        lines=tuple(wording.line_words(document.lines, currency=invoice.currency,
                                       metric_names=names,
                                       seat_equivalents=document.seat_equivalents)),
        total=wording.money(invoice.total, invoice.currency),
        finalized_on=_day(invoice.finalized_at),
        paid_on=_day(invoice.paid_at),
        voided_on=_day(invoice.voided_at),
        issuer=tuple(issuer),
    )


def _utc_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


def _day(moment: dt.datetime | None) -> str | None:
    return None if moment is None else wording.day(_utc_day(moment))
