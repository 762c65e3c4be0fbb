"""Payments received outside Stripe: ops record them (API, admin), and Stripe marks its
copy paid out of band so it stops collecting (through the real SDK and the fake server)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError

from invoices.models import Invoice
from invoices.services import InvoiceStateError, invoice_mark_paid_out_of_band
from invoices.services.lifecycle import invoice_mark_paid
from invoices.stripe.steps import stripe_client
from invoices.stripe.sync import stripe_sync_invoice
from invoices.stripe.tasks import queue_invoice_paid

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
FINALIZED_AT = dt.datetime(2026, 11, 1, 2, tzinfo=dt.UTC)
State = Invoice.StripeState

pytestmark = pytest.mark.django_db


def pay_posts(server, invoice: Invoice) -> list:
    return [r for r in server.requests
            if r.method == "POST" and r.path == f"/v1/invoices/{invoice.stripe_invoice_id}/pay"]


def mark_paid(invoice: Invoice, paid_at: dt.datetime = NOW) -> Invoice:
    return invoice_mark_paid_out_of_band(invoice=invoice, paid_at=paid_at, now=NOW)


# --------------------------------------------------------------------------- the service


def test_a_finalized_invoice_is_recorded_paid_at_the_given_time(make_invoice):
    invoice = mark_paid(make_invoice(["40.00"]), paid_at=NOW - dt.timedelta(days=2))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_at) == ("paid", NOW - dt.timedelta(days=2))
    assert mark_paid(invoice).paid_at == NOW - dt.timedelta(days=2)  # idempotent


@pytest.mark.parametrize("status", [Invoice.Status.DRAFT, Invoice.Status.VOID])
def test_only_a_finalized_invoice_can_be_marked_paid(make_invoice, status):
    with pytest.raises(InvoiceStateError):
        mark_paid(make_invoice(["40.00"], status=status))


@pytest.mark.parametrize(("paid_at", "words"), [
    (NOW + dt.timedelta(hours=1), "in the future"),
    (FINALIZED_AT - dt.timedelta(seconds=1), "before the invoice was finalized"),
])
def test_a_payment_time_that_cannot_be_is_refused_naming_paid_at(make_invoice, paid_at, words):
    invoice = make_invoice(["40.00"], finalized_at=FINALIZED_AT)
    with pytest.raises(ValidationError) as excinfo:
        mark_paid(invoice, paid_at=paid_at)
    assert words in excinfo.value.message_dict["paid_at"][0]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FINALIZED


# --------------------------------------------------------------------------- Stripe


def test_stripe_marks_a_synced_invoice_paid_out_of_band_once(
        stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks):
    invoice = stripe_sync_invoice(invoice=make_invoice(["40.00", "-5.00"]), now=NOW)
    assert fake_stripe.get(invoice.stripe_invoice_id)["status"] == "open"

    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_paid(mark_paid(invoice))
    stripe_sync_invoice(invoice=invoice, now=NOW)  # a retry finds it paid: nothing more

    remote = fake_stripe.get(invoice.stripe_invoice_id)
    assert (remote["status"], remote["paid_out_of_band"]) == ("paid", True)
    assert [r.idempotency_key for r in pay_posts(fake_stripe, invoice)] == [
        f"invoice-{invoice.pk}-pay"]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.stripe_state) == ("paid", State.SYNCED)


def test_an_invoice_paid_before_it_reached_stripe_is_finalized_there_and_paid(
        stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks):
    invoice = make_invoice(["40.00"])
    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_paid(mark_paid(invoice))

    invoice.refresh_from_db()
    remote = fake_stripe.get(invoice.stripe_invoice_id)
    assert (remote["status"], remote["total"], remote["paid_out_of_band"]) == ("paid", 4000, True)
    assert invoice.stripe_state == State.SYNCED


def test_an_invoice_stripe_itself_collected_is_not_paid_again(
        stripe_settings, fake_stripe, make_invoice):
    invoice = stripe_sync_invoice(invoice=make_invoice(["40.00"]), now=NOW)
    stripe_client().v1.invoices.pay(invoice.stripe_invoice_id)  # the customer paid in Stripe
    invoice_mark_paid(invoice=invoice, paid_at=NOW)  # … and its webhook told us

    stripe_sync_invoice(invoice=invoice, now=NOW)

    assert len(pay_posts(fake_stripe, invoice)) == 1  # the customer's payment only
    assert fake_stripe.get(invoice.stripe_invoice_id)["paid_out_of_band"] is False


def test_sync_off_records_the_payment_and_marks_the_invoice_off(
        settings, make_invoice, django_capture_on_commit_callbacks):
    settings.STRIPE_API_KEY = ""
    invoice = make_invoice(["40.00"])
    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_paid(mark_paid(invoice))
    invoice.refresh_from_db()
    assert (invoice.status, invoice.stripe_state) == ("paid", State.OFF)


# --------------------------------------------------------------------------- API, admin


def test_the_api_records_a_payment_and_answers_the_paid_invoice(api, make_invoice):
    invoice = make_invoice(["40.00"])
    with time_machine.travel(NOW, tick=False):
        response = api.post(f"/api/v1/invoices/{invoice.pk}/mark-paid",
                            {"paid_at": "2026-11-14T09:30:00+01:00"}, format="json")
        again = api.post(f"/api/v1/invoices/{invoice.pk}/mark-paid/", {}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["paid_at"]) == (
        "paid", "2026-11-14T08:30:00Z")
    assert again.status_code == 200 and again.json()["paid_at"] == "2026-11-14T08:30:00Z"


def test_the_api_defaults_paid_at_to_now(api, make_invoice):
    invoice = make_invoice(["40.00"])
    with time_machine.travel(NOW, tick=False):
        response = api.post(f"/api/v1/invoices/{invoice.pk}/mark-paid", format="json")
    assert response.json()["paid_at"] == "2026-11-15T12:00:00Z"


@pytest.mark.parametrize(("body", "field"), [
    ({"paid_at": "2027-01-01T00:00:00Z"}, "paid_at"),
    ({"paid_at": "0613-04-20T00:00:00Z"}, "paid_at"),
    ({"paid_at": "yesterday"}, "paid_at"),
    ({"reference": "wire 42"}, "reference"),
])
def test_the_api_refuses_a_bad_payment_naming_the_field(api, make_invoice, body, field):
    invoice = make_invoice(["40.00"])
    with time_machine.travel(NOW, tick=False):
        response = api.post(f"/api/v1/invoices/{invoice.pk}/mark-paid", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_the_api_answers_409_for_a_void_invoice(api, make_invoice):
    invoice = make_invoice(["40.00"], status=Invoice.Status.VOID)
    response = api.post(f"/api/v1/invoices/{invoice.pk}/mark-paid", format="json")
    assert response.status_code == 409
    assert "only finalized invoices can be marked paid" in response.json()["errors"]["status"][0]


def test_the_admin_action_marks_finalized_invoices_paid(admin_client, make_invoice):
    finalized, draft = make_invoice(["40.00"]), make_invoice(["10.00"], status="draft")
    response = admin_client.post("/admin/invoices/invoice/", {
        "action": "mark_paid", "_selected_action": [str(finalized.pk), str(draft.pk)]},
        follow=True)
    assert response.status_code == 200
    finalized.refresh_from_db()
    draft.refresh_from_db()
    assert (finalized.status, draft.status) == ("paid", "draft")
    text = response.content.decode()
    assert "1 invoice(s) marked paid." in text and "only finalized invoices" in text


def test_the_invoice_page_offers_mark_paid_only_while_finalized(admin_client, make_invoice):
    invoice = make_invoice(["40.00"])
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert f"/admin/invoices/invoice/{invoice.pk}/mark_paid/" in page
    admin_client.post(f"/admin/invoices/invoice/{invoice.pk}/mark_paid/", {"post": "yes"})
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    page = admin_client.get(f"/admin/invoices/invoice/{invoice.pk}/change/").content.decode()
    assert "mark_paid/" not in page


def test_the_invoice_page_asks_when_the_money_arrived(admin_client, make_invoice):
    invoice = make_invoice(["40.00"])
    url = f"/admin/invoices/invoice/{invoice.pk}/mark_paid/"
    with time_machine.travel(dt.datetime(2026, 11, 24, 15, 42, 17, tzinfo=dt.UTC), tick=False):
        page = admin_client.get(url).content.decode()
    assert 'type="datetime-local" name="paid_at" value="2026-11-24T15:42"' in page

    admin_client.post(url, {"paid_at": "2026-11-20T09:30"})

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert invoice.paid_at == dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(("paid_at", "says"), [
    ("2099-01-01T00:00", "is in the future"),
    ("2026-10-31T23:00", "before the invoice was finalized"),
    ("1800-01-01T00:00", "Use a year from 1970 to 2200"),
    ("yesterday", "Enter a valid date/time"),
])
def test_a_bad_received_at_is_shown_on_the_form_and_changes_nothing(admin_client, make_invoice,
                                                                     paid_at, says):
    invoice = make_invoice(["40.00"])  # finalized 1 Nov 2026 02:00 UTC

    response = admin_client.post(f"/admin/invoices/invoice/{invoice.pk}/mark_paid/",
                                 {"paid_at": paid_at})

    assert response.status_code == 400 and says in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.FINALIZED and invoice.paid_at is None
