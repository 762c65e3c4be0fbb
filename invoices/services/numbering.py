"""Invoice numbers: sequential per currency, with no gaps (SPEC 4).

The sequence row is locked for the rest of the finalizing transaction, so two
concurrent finalizes in one currency take turns and a rolled-back finalize gives its
number back.
"""

from __future__ import annotations

from django.db import transaction

from invoices.models import InvoiceNumberSequence

NUMBER_DIGITS = 6


def format_number(currency: str, number: int) -> str:
    return f"{currency}-{number:0{NUMBER_DIGITS}d}"


def next_invoice_number(*, currency: str) -> str:
    """Take the next number of ``currency``. Must run inside the finalizing transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_invoice_number must run inside the finalize transaction")
    # INSERT … ON CONFLICT DO NOTHING: the first invoice of a currency cannot race.
    InvoiceNumberSequence.objects.bulk_create(
        [InvoiceNumberSequence(currency=currency, last_number=0)], ignore_conflicts=True
    )
    sequence = InvoiceNumberSequence.objects.select_for_update().get(currency=currency)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return format_number(currency, sequence.last_number)
