"""``POST /stripe/webhook/``: signature checks, storing once, processing and replay.

Invoice objects in the events come from the local fake Stripe server, after our sync
pushed the invoice there, so they have the shape (and metadata) Stripe would send."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
import time
import uuid
from types import SimpleNamespace

import pytest
from django.contrib import admin, messages
from django.db import OperationalError
from django.test import Client

from invoices.models import Invoice, StripeEvent
from invoices.stripe import webhooks
from invoices.stripe.steps import stripe_client
from invoices.stripe.sync import stripe_sync_invoice
from invoices.stripe.tasks import replay_failed_webhooks
from tests.fakestripe import make_event, sign_webhook_payload
from tests.invoices.conftest import WEBHOOK_SECRET

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
URL = "/stripe/webhook/"
Status = Invoice.Status
EventStatus = StripeEvent.Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def web() -> Client:
    # Stripe sends no CSRF token: the endpoint must work with CSRF checks on.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def deliver(web, django_capture_on_commit_callbacks):
    """POST an event as Stripe would (processing runs after commit, as in production)."""

    def send(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
             body: bytes | None = None, signature: str | None = None):
        payload = json.dumps(event).encode()
        header = signature or sign_webhook_payload(payload, secret, timestamp)
        with django_capture_on_commit_callbacks(execute=True):
            return web.post(URL, data=body if body is not None else payload,
                            content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    return send


@pytest.fixture
def synced(stripe_settings, make_invoice) -> Invoice:
    return stripe_sync_invoice(invoice=make_invoice(["40.00", "-4.00"]), now=NOW)


def remote(server, invoice: Invoice) -> dict:
    return server.get(invoice.stripe_invoice_id)


def paid_in_stripe(server, invoice: Invoice) -> dict:
    stripe_client().v1.invoices.pay(invoice.stripe_invoice_id, {"paid_out_of_band": True})
    return remote(server, invoice)


# --------------------------------------------------------------------------- effects


def test_invoice_paid_marks_our_invoice_paid(deliver, fake_stripe, synced):
    obj = paid_in_stripe(fake_stripe, synced)

    response = deliver(make_event("invoice.paid", obj))

    assert response.status_code == 200
    synced.refresh_from_db()
    assert synced.status == Status.PAID
    assert synced.paid_at == dt.datetime.fromtimestamp(
        obj["status_transitions"]["paid_at"], tz=dt.UTC
    )
    event = StripeEvent.objects.get()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 1, "")
    assert event.payload["data"]["object"]["id"] == synced.stripe_invoice_id


def test_invoice_found_by_stripe_id_when_metadata_is_missing(deliver, fake_stripe, synced):
    obj = paid_in_stripe(fake_stripe, synced) | {"metadata": {}}

    deliver(make_event("invoice.paid", obj))

    synced.refresh_from_db()
    assert synced.status == Status.PAID


def test_payment_failed_flags_the_invoice_and_keeps_it_open(deliver, fake_stripe, synced):
    created = int(time.time())

    deliver(make_event("invoice.payment_failed", remote(fake_stripe, synced), created=created))

    synced.refresh_from_db()
    assert synced.status == Status.FINALIZED
    assert synced.payment_failed_at == dt.datetime.fromtimestamp(created, tz=dt.UTC)
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED


def test_invoice_voided_voids_our_invoice_without_voiding_stripe_twice(
    deliver, fake_stripe, synced
):
    stripe_client().v1.invoices.void_invoice(synced.stripe_invoice_id)
    voids_before = [r for r in fake_stripe.requests if r.path.endswith("/void")]

    deliver(make_event("invoice.voided", remote(fake_stripe, synced)))

    synced.refresh_from_db()
    assert synced.status == Status.VOID and synced.voided_at is not None
    assert synced.stripe_state == Invoice.StripeState.SYNCED
    assert [r for r in fake_stripe.requests if r.path.endswith("/void")] == voids_before


def test_other_event_types_are_stored_and_ignored(deliver, fake_stripe, synced):
    response = deliver(make_event("invoice.finalized", remote(fake_stripe, synced)))

    assert response.status_code == 200
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.IGNORED
    synced.refresh_from_db()
    assert synced.status == Status.FINALIZED


def test_invoice_not_made_here_is_ignored(deliver, stripe_settings):
    obj = {"id": "in_elsewhere", "object": "invoice", "metadata": {}, "status": "paid"}

    deliver(make_event("invoice.paid", obj))

    event = StripeEvent.objects.get()
    assert event.status == EventStatus.IGNORED
    assert "in_elsewhere" in event.error


def test_paid_in_stripe_but_void_here_fails_and_changes_nothing(
    deliver, fake_stripe, synced
):
    obj = paid_in_stripe(fake_stripe, synced)
    Invoice.objects.filter(pk=synced.pk).update(status=Status.VOID, voided_at=NOW)

    deliver(make_event("invoice.paid", obj))

    synced.refresh_from_db()
    assert synced.status == Status.VOID and synced.paid_at is None
    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert "void here but was paid in Stripe" in event.error


# --------------------------------------------------------------------------- rejected


def _nothing_changed(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    assert invoice.status == Status.FINALIZED and invoice.paid_at is None
    assert not StripeEvent.objects.exists()


def test_forged_signature_is_rejected(deliver, fake_stripe, synced):
    response = deliver(make_event("invoice.paid", paid_in_stripe(fake_stripe, synced)),
                       secret="whsec_someone_else")

    assert response.status_code == 400
    assert "signature" in response.json()["detail"].lower()
    _nothing_changed(synced)


def test_tampered_body_is_rejected(deliver, fake_stripe, synced):
    event = make_event("invoice.paid", paid_in_stripe(fake_stripe, synced))
    signed = json.dumps(event).encode()
    event["data"]["object"]["amount_paid"] = 1
    header = sign_webhook_payload(signed, WEBHOOK_SECRET)

    response = deliver(event, signature=header)

    assert response.status_code == 400
    _nothing_changed(synced)


def test_old_timestamp_is_rejected(deliver, fake_stripe, synced):
    event = make_event("invoice.paid", paid_in_stripe(fake_stripe, synced))

    response = deliver(event, timestamp=int(time.time()) - 6 * 60)

    assert response.status_code == 400
    _nothing_changed(synced)


def test_missing_signature_is_rejected(web, stripe_settings):
    response = web.post(URL, data=json.dumps(make_event("invoice.paid", {})),
                        content_type="application/json")

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_signed_garbage_is_rejected(deliver, stripe_settings):
    response = deliver({}, body=b"not json", signature=sign_webhook_payload(
        b"not json", WEBHOOK_SECRET))

    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def _signed(web, body: bytes):
    # The signature covers the raw bytes, as Stripe's does (it signs "<t>.<body>").
    timestamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), b"%d." % timestamp + body,
                      hashlib.sha256).hexdigest()
    return web.post(URL, data=body, content_type="application/json",
                    HTTP_STRIPE_SIGNATURE=f"t={timestamp},v1={digest}")


_NOT_EVENTS = {
    "list": b"[1]",
    "string": b'"x"',
    "number": b"42",
    "null": b"null",
    "empty object": b"{}",
    "no id": b'{"type": "invoice.paid", "data": {"object": {}}}',
    "no type": b'{"id": "evt_1", "data": {"object": {}}}',
    "no data": b'{"id": "evt_1", "type": "invoice.paid"}',
    "data not an object": b'{"id": "evt_1", "type": "invoice.paid", "data": [1]}',
    "no data.object": b'{"id": "evt_1", "type": "invoice.paid", "data": {}}',
    "data.object a string": b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": "x"}}',
    "id a number": b'{"id": 1, "type": "invoice.paid", "data": {"object": {}}}',
    "type a list": b'{"id": "evt_1", "type": ["invoice.paid"], "data": {"object": {}}}',
    "id too long": b'{"id": "' + b"e" * 300 + b'", "type": "x", "data": {"object": {}}}',
    "NUL in id": b'{"id": "evt_\\u0000", "type": "x", "data": {"object": {}}}',
    "NUL deep inside": b'{"id": "evt_1", "type": "x", "data": {"object": {"a": ["\\u0000"]}}}',
    "lone surrogate": b'{"id": "evt_1", "type": "x", "data": {"object": {"\\ud800": 1}}}',
    "NaN": b'{"id": "evt_1", "type": "x", "data": {"object": {"n": NaN}}}',
    "not UTF-8": b'{"id": "evt_\xff", "type": "x", "data": {"object": {}}}',
    "nested too deeply": b'{"id": "evt_1", "type": "x", "data": {"object": {"a": '
                         + b"[" * 100_000 + b"]" * 100_000 + b"}}}",
}


@pytest.mark.parametrize("body", list(_NOT_EVENTS.values()), ids=list(_NOT_EVENTS))
def test_signed_body_that_is_not_a_stripe_event_is_a_400_not_a_500(web, stripe_settings, body):
    response = _signed(web, body)

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("The body is not a Stripe event")
    assert not StripeEvent.objects.exists()


def test_not_an_event_message_names_what_is_missing(web, stripe_settings):
    assert "data.object" in _signed(web, _NOT_EVENTS["no data.object"]).json()["detail"]
    assert "JSON object" in _signed(web, b"[1]").json()["detail"]
    assert "UTF-8" in _signed(web, _NOT_EVENTS["not UTF-8"]).json()["detail"]


def test_without_a_webhook_secret_deliveries_are_refused_for_later(deliver, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = deliver(make_event("invoice.paid", {}), secret="whsec_anything")

    assert response.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET is not set" in response.json()["detail"]
    assert not StripeEvent.objects.exists()


def test_only_post_is_accepted(web, stripe_settings):
    assert web.get(URL).status_code == 405


# --------------------------------------------------------------------------- once


def test_duplicate_delivery_is_stored_and_processed_once(deliver, fake_stripe, synced):
    event = make_event("invoice.paid", paid_in_stripe(fake_stripe, synced))

    first = deliver(event)
    second = deliver(event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    stored = StripeEvent.objects.get()
    assert (stored.status, stored.attempts) == (EventStatus.PROCESSED, 1)


def test_processing_an_event_twice_applies_it_once(deliver, fake_stripe, synced):
    deliver(make_event("invoice.paid", paid_in_stripe(fake_stripe, synced)))
    event = StripeEvent.objects.get()

    again = webhooks.stripe_event_process(event=event, now=NOW + dt.timedelta(days=1))

    assert (again.status, again.attempts) == (EventStatus.PROCESSED, 1)


# --------------------------------------------------------------------------- failures & replay


def test_event_for_an_unknown_invoice_fails_and_is_replayed_once_it_exists(
    deliver, fake_stripe, synced, make_invoice
):
    missing = uuid.uuid4()
    obj = {"id": "in_other", "object": "invoice", "metadata": {"invoice_id": str(missing)},
           "status": "paid", "status_transitions": {"paid_at": int(time.time())}}

    assert deliver(make_event("invoice.paid", obj)).status_code == 200

    event = StripeEvent.objects.get()
    assert (event.status, event.attempts) == (EventStatus.FAILED, 1)
    assert str(missing) in event.error

    # The invoice turns up (restored from a backup): the scheduled replay applies it.
    make_invoice(["1.00"], id=missing, stripe_invoice_id="in_other")
    replay_failed_webhooks.delay()

    event.refresh_from_db()
    assert (event.status, event.attempts, event.error) == (EventStatus.PROCESSED, 2, "")
    assert Invoice.objects.get(pk=missing).status == Status.PAID


def test_unexpected_processing_error_is_kept_and_replayed(
    deliver, fake_stripe, synced, monkeypatch
):
    real = webhooks.invoice_mark_paid

    def flaky(**kwargs):
        raise OperationalError("database went away")

    monkeypatch.setattr(webhooks, "invoice_mark_paid", flaky)
    deliver(make_event("invoice.paid", paid_in_stripe(fake_stripe, synced)))

    event = StripeEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert event.error == "OperationalError: database went away"
    synced.refresh_from_db()
    assert synced.status == Status.FINALIZED

    monkeypatch.setattr(webhooks, "invoice_mark_paid", real)
    replayed = webhooks.stripe_events_replay(now=NOW)

    assert [e.status for e in replayed] == [EventStatus.PROCESSED]
    synced.refresh_from_db()
    assert synced.status == Status.PAID


def test_replay_gives_up_after_the_attempt_cap_and_picks_up_lost_events(stripe_settings):
    def stored(stripe_id: str, **fields) -> StripeEvent:
        return StripeEvent.objects.create(
            stripe_id=stripe_id, type="invoice.created",
            payload=make_event("invoice.created", {}), **fields,
        )

    stored("evt_given_up", status=EventStatus.FAILED, attempts=webhooks.MAX_ATTEMPTS,
           received_at=NOW - dt.timedelta(days=1))
    stored("evt_retry", status=EventStatus.FAILED, attempts=3,
           received_at=NOW - dt.timedelta(hours=1))
    stored("evt_lost", received_at=NOW - dt.timedelta(minutes=11))
    stored("evt_just_in", received_at=NOW - dt.timedelta(minutes=1))

    replayed = webhooks.stripe_events_replay(now=NOW)

    assert [e.stripe_id for e in replayed] == ["evt_retry", "evt_lost"]
    assert {e.status for e in replayed} == {EventStatus.IGNORED}


# --------------------------------------------------------------------------- admin


def test_stripe_event_admin_is_registered_once_and_replays(stripe_settings):
    from invoices.stripe import admin as stripe_admin

    importlib.reload(stripe_admin)  # importing again must not register twice
    assert admin.site.is_registered(StripeEvent)
    event = StripeEvent.objects.create(
        stripe_id="evt_1", type="customer.created", payload=make_event("customer.created", {}),
        status=EventStatus.FAILED, received_at=NOW,
    )
    shown = []
    model_admin = SimpleNamespace(message_user=lambda request, text, level: shown.append(
        (text, level)))

    stripe_admin.replay_stripe_events(model_admin, None, StripeEvent.objects.all())

    assert shown == [("1 ignored", messages.SUCCESS)]
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED


def test_ops_can_replay_failed_events_from_the_admin(admin_client, stripe_settings):
    event = StripeEvent.objects.create(
        stripe_id="evt_2", type="customer.created", payload=make_event("customer.created", {}),
        status=EventStatus.FAILED, attempts=1, error="boom", received_at=NOW,
    )
    changelist = "/admin/invoices/stripeevent/"

    page = admin_client.get(changelist, {"status__exact": "failed"})
    assert page.status_code == 200
    assert b"replay_stripe_events" in page.content and b"evt_2" in page.content

    response = admin_client.post(changelist, {
        "action": "replay_stripe_events", "_selected_action": [event.pk],
    }, follow=True)

    assert response.status_code == 200
    assert b"1 ignored" in response.content
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED
