"""Invoice lifecycle (SPEC 4): draft → finalized (numbered, immutable) → paid or void."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings

from invoices.models import Invoice, InvoiceNumberSequence
from invoices.services import (
    InvoiceStateError,
    auto_finalize_drafts,
    billing_run,
    invoice_delete_draft,
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid,
    invoice_mark_payment_failed,
    invoice_release_hold,
    invoice_void,
)
from tests.invoices.billing_fixtures import at, team_version, worked_example

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 2)


def drafts(n: int = 1, *, currency: str = "USD") -> list[Invoice]:
    version = team_version(currency=currency)
    for i in range(n):
        worked_example(external_id=f"{currency.lower()}{i}", version=version)
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return list(Invoice.objects.filter(currency=currency).order_by("customer__external_id"))


def test_finalize_numbers_invoices_in_sequence_per_currency():
    usd = drafts(3)
    eur = drafts(2, currency="EUR")

    numbers = [invoice_finalize(invoice=i, now=NOW).number for i in [*usd, *eur]]

    assert numbers == ["USD-000001", "USD-000002", "USD-000003", "EUR-000001", "EUR-000002"]
    assert InvoiceNumberSequence.objects.get(currency="USD").last_number == 3


def test_finalize_sets_status_time_and_stripe_off_without_a_stripe_key():
    invoice = invoice_finalize(invoice=drafts()[0], now=NOW)

    invoice.refresh_from_db()
    assert invoice.status == "finalized" and invoice.finalized_at == NOW
    assert invoice.stripe_state == "off"


def test_finalize_with_stripe_key_leaves_the_sync_pending_and_queues_nothing_itself(
    django_capture_on_commit_callbacks
):
    invoice = drafts()[0]
    with override_settings(STRIPE_API_KEY="sk_test_x"), \
            django_capture_on_commit_callbacks() as callbacks:
        invoice = invoice_finalize(invoice=invoice, now=NOW)

    # The edge queues the push (invoices.stripe.tasks.queue_invoice_sync); one that never
    # does is found by the scheduled retry.
    invoice.refresh_from_db()
    assert invoice.stripe_state == "pending" and invoice.stripe_next_attempt_at is None
    assert callbacks == []


def test_a_finalize_that_rolls_back_uses_no_number():
    invoice = drafts()[0]
    with override_settings(STRIPE_API_KEY="sk_test_x"), \
            mock.patch("invoices.models.Invoice.save", side_effect=RuntimeError("db down")):
        with pytest.raises(RuntimeError):
            invoice_finalize(invoice=invoice, now=NOW)
    assert InvoiceNumberSequence.objects.filter(last_number__gt=0).count() == 0


def test_failed_finalize_gives_its_number_back_so_there_is_no_gap():
    first, second = drafts(2)
    with mock.patch("invoices.models.Invoice.save", side_effect=RuntimeError("db down")), \
            pytest.raises(RuntimeError):
        invoice_finalize(invoice=first, now=NOW)

    assert invoice_finalize(invoice=second, now=NOW).number == "USD-000001"
    assert invoice_finalize(invoice=first, now=NOW).number == "USD-000002"


def test_only_a_draft_can_be_finalized():
    invoice = invoice_finalize(invoice=drafts()[0], now=NOW)

    with pytest.raises(InvoiceStateError) as error:
        invoice_finalize(invoice=invoice, now=NOW)
    assert "status" in error.value.message_dict


def test_finalizing_a_held_draft_by_hand_releases_the_hold():
    invoice = invoice_hold(invoice=drafts()[0])

    invoice = invoice_finalize(invoice=invoice, now=NOW)

    assert invoice.status == "finalized" and invoice.on_hold is False


def test_void_a_finalized_invoice_and_paid_cannot_be_voided():
    voided, paid = drafts(2)
    voided = invoice_void(invoice=invoice_finalize(invoice=voided, now=NOW), now=NOW)
    paid = invoice_mark_paid(invoice=invoice_finalize(invoice=paid, now=NOW), paid_at=NOW)

    assert (voided.status, voided.voided_at, voided.number) == ("void", NOW, "USD-000001")
    assert (paid.status, paid.paid_at) == ("paid", NOW)
    with pytest.raises(InvoiceStateError):
        invoice_void(invoice=paid, now=NOW)
    with pytest.raises(InvoiceStateError):
        invoice_void(invoice=voided, now=NOW)


def test_voiding_a_draft_keeps_its_period_unbilled_and_unnumbered():
    invoice = invoice_void(invoice=drafts()[0], now=NOW)

    assert invoice.status == "void" and invoice.number is None
    assert billing_run(as_of=at(2026, 11, 1, 5), now=at(2026, 11, 1, 5)).invoices_created == 0


def test_deleting_a_draft_lets_the_next_run_rate_the_period_again():
    invoice_delete_draft(invoice=drafts()[0])

    assert billing_run(as_of=at(2026, 11, 1, 5), now=at(2026, 11, 1, 5)).invoices_created == 1
    assert Invoice.objects.get().total == D("216.80")


def test_voiding_a_synced_invoice_keeps_its_stripe_state_for_the_void_to_come(
    django_capture_on_commit_callbacks
):
    invoice = invoice_finalize(invoice=drafts()[0], now=NOW)
    Invoice.objects.filter(pk=invoice.pk).update(stripe_state="synced")

    with django_capture_on_commit_callbacks() as callbacks:
        invoice = invoice_void(invoice=invoice, now=NOW)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.stripe_state) == ("void", "synced")
    assert callbacks == []


def test_mark_paid_is_idempotent_and_refuses_drafts():
    invoice = drafts()[0]
    with pytest.raises(InvoiceStateError):
        invoice_mark_paid(invoice=invoice, paid_at=NOW)
    invoice = invoice_finalize(invoice=invoice, now=NOW)

    invoice_mark_paid(invoice=invoice, paid_at=NOW)
    again = invoice_mark_paid(invoice=invoice, paid_at=NOW + dt.timedelta(days=1))

    assert again.paid_at == NOW


def test_payment_failure_is_recorded_and_the_invoice_stays_finalized():
    invoice = invoice_finalize(invoice=drafts()[0], now=NOW)

    invoice = invoice_mark_payment_failed(invoice=invoice, failed_at=NOW)

    assert (invoice.status, invoice.payment_failed_at) == ("finalized", NOW)


def test_hold_and_release_only_on_drafts():
    invoice = invoice_hold(invoice=drafts()[0])
    assert invoice.on_hold
    invoice = invoice_release_hold(invoice=invoice)
    assert not invoice.on_hold
    invoice_finalize(invoice=invoice, now=NOW)
    with pytest.raises(InvoiceStateError):
        invoice_hold(invoice=invoice)


@override_settings(BILLING_REVIEW_WINDOW_SECONDS=24 * 3600)
def test_auto_finalize_finalizes_drafts_past_the_review_window_but_not_held_ones(time_machine):
    time_machine.move_to(at(2026, 11, 1, 1), tick=False)
    old, held = drafts(2)
    invoice_hold(invoice=held)

    time_machine.move_to(at(2026, 11, 1, 23), tick=False)
    assert auto_finalize_drafts(now=at(2026, 11, 1, 23)) == []

    finalized = auto_finalize_drafts(now=at(2026, 11, 2, 1))

    assert [i.pk for i in finalized] == [old.pk]
    held.refresh_from_db()
    assert held.status == "draft"
    assert auto_finalize_drafts(now=at(2026, 11, 3)) == []


def test_auto_finalize_goes_on_after_one_failure():
    first, second = drafts(2)
    real = invoice_finalize

    def flaky(*, invoice, now):
        if invoice.pk == first.pk:
            raise ValidationError("nope")
        return real(invoice=invoice, now=now)

    with mock.patch("invoices.services.lifecycle.invoice_finalize", side_effect=flaky):
        finalized = auto_finalize_drafts(now=at(2027, 1, 1))

    assert [i.pk for i in finalized] == [second.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizes_number_without_gaps_or_duplicates():
    invoices = drafts(8)
    barrier = threading.Barrier(len(invoices))
    errors: list[BaseException] = []

    def finalize(invoice: Invoice) -> None:
        try:
            barrier.wait()
            invoice_finalize(invoice=invoice, now=NOW)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=finalize, args=(i,)) for i in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"USD-{n:06d}" for n in range(1, 9)]
