"""A finalized invoice is immutable (SPEC 4): refused by the model layer on every database,
and by triggers in PostgreSQL itself for raw SQL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import DatabaseError, connection, transaction

from invoices.models import Invoice, InvoiceImmutableError, InvoiceLine
from invoices.services import billing_run, invoice_finalize, invoice_mark_paid, invoice_void
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 2)


@pytest.fixture
def draft() -> Invoice:
    worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return Invoice.objects.get()


@pytest.fixture
def finalized(draft) -> Invoice:
    return invoice_finalize(invoice=draft, now=NOW)


def test_draft_can_change_freely(draft):
    lines_before = draft.lines.count()
    draft.total = D("1.00")
    draft.save()
    InvoiceLine.objects.filter(invoice=draft).update(description="edited")
    draft.lines.first().delete()

    assert Invoice.objects.get(pk=draft.pk).total == D("1.00")
    assert list(draft.lines.values_list("description", flat=True).distinct()) == ["edited"]
    assert draft.lines.count() == lines_before - 1


def test_finalized_invoice_refuses_save_of_amounts(finalized):
    finalized.total = D("1.00")
    with pytest.raises(InvoiceImmutableError):
        finalized.save()
    assert Invoice.objects.get(pk=finalized.pk).total != D("1.00")


def test_finalized_invoice_refuses_queryset_update_and_delete(finalized):
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=finalized.pk).update(total=0)
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=finalized.pk).update(status="draft")
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=finalized.pk).delete()
    with pytest.raises(InvoiceImmutableError):
        finalized.delete()
    stored = Invoice.objects.get(pk=finalized.pk)
    assert (stored.status, stored.total) == ("finalized", finalized.total)


def test_finalized_invoice_refuses_line_changes(finalized):
    before = list(finalized.lines.values_list("position", "amount"))
    line = finalized.lines.first()
    line.amount = D("0")
    with pytest.raises(InvoiceImmutableError):
        line.save()
    with pytest.raises(InvoiceImmutableError):
        line.delete()
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.filter(invoice=finalized).update(amount=0)
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.filter(invoice=finalized).delete()
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.create(invoice=finalized, position=9, kind="seat", description="x",
                                   amount=1)
    with pytest.raises(InvoiceImmutableError):
        InvoiceLine.objects.bulk_create([InvoiceLine(invoice=finalized, position=9, kind="seat",
                                                     description="x", amount=1)])
    assert list(finalized.lines.values_list("position", "amount")) == before


def test_finalized_invoice_allows_payment_and_stripe_bookkeeping(finalized):
    Invoice.objects.filter(pk=finalized.pk).update(
        stripe_state="synced", stripe_invoice_id="in_1", stripe_attempts=1, payment_failed_at=NOW)
    first, *others = finalized.lines.order_by("position")
    InvoiceLine.objects.filter(pk__in=[o.pk for o in others]).update(stripe_invoice_item_id="ii_n")
    first.stripe_invoice_item_id = "ii_1"
    first.save(update_fields=["stripe_invoice_item_id"])
    finalized.refresh_from_db()
    finalized.stripe_error = "rate limited"
    finalized.save()

    paid = invoice_mark_paid(invoice=finalized, paid_at=NOW)

    stored = Invoice.objects.get(pk=finalized.pk)
    assert (stored.status, stored.paid_at, stored.stripe_invoice_id, stored.stripe_state,
            stored.stripe_error, stored.payment_failed_at) == (
        "paid", NOW, "in_1", "synced", "rate limited", NOW)
    assert paid.status == "paid"
    assert list(finalized.lines.order_by("position").values_list(
        "stripe_invoice_item_id", flat=True)) == ["ii_1"] + ["ii_n"] * len(others)


def test_paid_and_void_are_final(finalized):
    invoice_void(invoice=finalized, now=NOW)
    with pytest.raises(InvoiceImmutableError):
        Invoice.objects.filter(pk=finalized.pk).update(status="paid")
    finalized.refresh_from_db()
    finalized.status = "finalized"
    with pytest.raises(InvoiceImmutableError):
        finalized.save()
    assert Invoice.objects.get(pk=finalized.pk).status == "void"


def raw(sql: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.postgres
def test_database_refuses_raw_update_of_a_finalized_invoice(finalized):
    with pytest.raises(DatabaseError, match="immutable"):
        raw("UPDATE invoices_invoice SET total = 0 WHERE id = %s", [finalized.pk])
    with pytest.raises(DatabaseError, match="cannot become"):
        raw("UPDATE invoices_invoice SET status = 'draft' WHERE id = %s", [finalized.pk])
    with pytest.raises(DatabaseError, match="cannot be deleted"):
        raw("DELETE FROM invoices_invoice WHERE id = %s", [finalized.pk])
    stored = Invoice.objects.get(pk=finalized.pk)
    assert (stored.status, stored.total) == ("finalized", finalized.total)


@pytest.mark.postgres
def test_database_refuses_raw_changes_to_lines_of_a_finalized_invoice(finalized):
    before = list(finalized.lines.values_list("position", "amount"))
    line = finalized.lines.first()
    with pytest.raises(DatabaseError, match="immutable"):
        raw("UPDATE invoices_invoiceline SET amount = 0 WHERE id = %s", [line.pk])
    with pytest.raises(DatabaseError, match="immutable"):
        raw("DELETE FROM invoices_invoiceline WHERE id = %s", [line.pk])
    with pytest.raises(DatabaseError, match="no new lines"):
        raw("INSERT INTO invoices_invoiceline (invoice_id, position, kind, description, metric, "
            "charge_key, tiers, amount, stripe_invoice_item_id) VALUES "
            "(%s, 9, 'seat', 'x', '', '', '[]', 1, '')", [finalized.pk])
    assert list(finalized.lines.values_list("position", "amount")) == before


@pytest.mark.postgres
def test_database_allows_the_permitted_transitions_and_bookkeeping(finalized):
    raw("UPDATE invoices_invoice SET stripe_state = 'synced', stripe_invoice_id = 'in_1', "
        "updated_at = now() WHERE id = %s", [finalized.pk])
    raw("UPDATE invoices_invoiceline SET stripe_invoice_item_id = 'ii_1' WHERE invoice_id = %s",
        [finalized.pk])
    raw("UPDATE invoices_invoice SET status = 'paid', paid_at = now() WHERE id = %s",
        [finalized.pk])
    with pytest.raises(DatabaseError, match="cannot become"):
        raw("UPDATE invoices_invoice SET status = 'void' WHERE id = %s", [finalized.pk])

    stored = Invoice.objects.get(pk=finalized.pk)
    assert (stored.status, stored.stripe_state, stored.stripe_invoice_id) == (
        "paid", "synced", "in_1")
    assert stored.paid_at is not None and stored.voided_at is None
    assert set(finalized.lines.values_list("stripe_invoice_item_id", flat=True)) == {"ii_1"}


@pytest.mark.postgres
def test_database_lets_drafts_change(draft):
    raw("UPDATE invoices_invoice SET total = 1 WHERE id = %s", [draft.pk])
    assert Invoice.objects.get(pk=draft.pk).total == 1
    raw("DELETE FROM invoices_invoiceline WHERE invoice_id = %s", [draft.pk])
    assert not InvoiceLine.objects.filter(invoice_id=draft.pk).exists()
    raw("DELETE FROM invoices_invoice WHERE id = %s", [draft.pk])
    assert not Invoice.objects.filter(pk=draft.pk).exists()
