"""Guards every database keeps (SQLite and PostgreSQL alike): CHECK constraints tying an
invoice's status to its number and timestamps, and Stripe ids that are set once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from accounts.models import Customer
from accounts.services import customer_update
from billing_site.checks import database_role_is_least_privilege
from invoices.models import Invoice, InvoiceLine, StripeIdWriteOnceError
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


def refused(constraint: str, invoice: Invoice, **changes) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(**changes)


def test_lifecycle_writes_satisfy_the_status_constraints(finalized):
    worked_example(external_id="globex")
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    other = Invoice.objects.get(customer__external_id="globex")

    paid = invoice_mark_paid(invoice=finalized, paid_at=NOW)
    voided_draft = invoice_void(invoice=other, now=NOW)

    assert (paid.status, paid.paid_at, paid.voided_at) == ("paid", NOW, None)
    assert (voided_draft.status, voided_draft.number, voided_draft.finalized_at) == (
        "void", None, None)


def test_a_finalized_invoice_cannot_be_paid_and_void_at_once(finalized):
    refused("invoice_never_paid_and_void|invoice_voided_at_iff_void", finalized,
            status="paid", paid_at=NOW, voided_at=NOW)
    refused("invoice_never_paid_and_void|invoice_paid_at_iff_paid", finalized,
            status="void", paid_at=NOW, voided_at=NOW)
    assert Invoice.objects.get(pk=finalized.pk).status == "finalized"


def test_paid_and_void_need_their_timestamps_and_only_they_have_them(finalized):
    refused("invoice_paid_at_iff_paid", finalized, status="paid")
    refused("invoice_voided_at_iff_void", finalized, status="void")
    refused("invoice_paid_at_iff_paid", finalized, paid_at=NOW)
    refused("invoice_voided_at_iff_void", finalized, voided_at=NOW)


def test_a_draft_has_no_number_nor_finalized_at(draft):
    refused("invoice_draft_unnumbered", draft, number="USD-999999")
    refused("invoice_draft_unnumbered", draft, finalized_at=NOW)


def test_finalized_needs_a_number_and_finalized_at(draft):
    refused("invoice_finalized_numbered", draft, status="finalized")
    refused("invoice_finalized_numbered", draft, status="finalized", number="USD-999999")
    refused("invoice_finalized_numbered", draft, status="paid", paid_at=NOW, number="USD-9")


def test_a_void_invoice_is_numbered_exactly_when_it_was_finalized(draft):
    refused("invoice_void_numbered_iff_finalized", draft,
            status="void", voided_at=NOW, finalized_at=NOW)
    refused("invoice_void_numbered_iff_finalized", draft,
            status="void", voided_at=NOW, number="USD-999999")


def test_an_unknown_status_is_refused(draft):
    refused("invoice_status_known", draft, status="refunded")


def test_stripe_invoice_id_is_set_once(finalized):
    Invoice.objects.filter(pk=finalized.pk).update(stripe_invoice_id="in_1")
    Invoice.objects.filter(pk=finalized.pk).update(stripe_invoice_id="in_1")  # unchanged

    with pytest.raises(StripeIdWriteOnceError) as refusal:
        Invoice.objects.filter(pk=finalized.pk).update(stripe_invoice_id="in_2")
    assert "stripe_invoice_id" in refusal.value.message_dict
    invoice = Invoice.objects.get(pk=finalized.pk)
    invoice.stripe_invoice_id = ""
    with pytest.raises(StripeIdWriteOnceError):
        invoice.save(update_fields=["stripe_invoice_id"])
    assert Invoice.objects.get(pk=finalized.pk).stripe_invoice_id == "in_1"


def test_stripe_invoice_item_id_is_set_once(finalized):
    first, second, *_ = finalized.lines.order_by("position")
    first.stripe_invoice_item_id = "ii_1"
    first.save(update_fields=["stripe_invoice_item_id"])
    InvoiceLine.objects.filter(pk=second.pk).update(stripe_invoice_item_id="ii_2")

    first.stripe_invoice_item_id = "ii_other"
    with pytest.raises(StripeIdWriteOnceError):
        first.save(update_fields=["stripe_invoice_item_id"])
    with pytest.raises(StripeIdWriteOnceError):
        InvoiceLine.objects.filter(pk=second.pk).update(stripe_invoice_item_id="ii_other")
    with pytest.raises(StripeIdWriteOnceError):
        InvoiceLine.objects.bulk_update([first], ["stripe_invoice_item_id"])
    assert list(finalized.lines.order_by("position").values_list(
        "stripe_invoice_item_id", flat=True))[:2] == ["ii_1", "ii_2"]


def test_stripe_customer_id_is_set_once_and_the_api_says_so(api):
    customer = Customer.objects.create(external_id="acme", name="Acme", email="a@acme.test")
    customer_update(customer=customer, stripe_customer_id="cus_1")

    response = api.patch("/api/v1/customers/acme", {"stripe_customer_id": "cus_2"}, format="json")

    assert response.status_code == 400
    assert "stripe_customer_id" in response.json()["errors"]
    assert api.patch("/api/v1/customers/acme", {"stripe_customer_id": "cus_1"},
                     format="json").status_code == 200
    assert Customer.objects.get(pk=customer.pk).stripe_customer_id == "cus_1"


def test_the_role_check_touches_no_database_unless_asked(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert database_role_is_least_privilege(None, databases=None) == []
    errors = StringIO()
    call_command("check", "--deploy", "--tag", "database", stdout=StringIO(), stderr=errors)
    assert "billing.W002" not in errors.getvalue()


def test_the_role_check_inspects_postgresql_only(settings):
    ids = [w.id for w in database_role_is_least_privilege(None, databases=["default"])]
    # The suite connects to PostgreSQL as its superuser; SQLite has no roles.
    assert ids == (["billing.W002"] if settings.IS_POSTGRES else [])
