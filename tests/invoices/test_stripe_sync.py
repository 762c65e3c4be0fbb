"""The Stripe sync, driven through the real ``stripe`` SDK against the local fake server."""

from __future__ import annotations

import datetime as dt
import threading
from types import SimpleNamespace

import pytest
import stripe
import time_machine
from celery.exceptions import Retry
from django.contrib import messages
from django.db import connection, transaction

from accounts.models import Customer
from invoices.models import Invoice
from invoices.services.lifecycle import invoice_finalize, invoice_void
from invoices.stripe import sync as stripe_sync
from invoices.stripe.admin import retry_stripe_sync as retry_action
from invoices.stripe.checks import stripe_sync_configured
from invoices.stripe.steps import customer_idempotency_key, stripe_client
from invoices.stripe.sync import (
    OFF_MESSAGE,
    StripeSyncBusy,
    StripeSyncFailed,
    StripeSyncOff,
    StripeSyncTransient,
    stripe_retry_claim,
    stripe_sync_due,
    stripe_sync_invoice,
    stripe_sync_start,
    stripe_void_invoice,
)
from invoices.stripe.tasks import (
    queue_invoice_sync,
    queue_invoice_void,
    retry_stripe_sync,
    sync_invoice_to_stripe,
)
from invoices.tasks import auto_finalize_drafts
from tests.factories import CustomerFactory, InvoiceFactory

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
State = Invoice.StripeState

pytestmark = pytest.mark.django_db


def posts(server, path: str) -> list:
    return [r for r in server.requests if r.method == "POST" and r.path == path]


def stripe_items(server, invoice: Invoice) -> list[dict]:
    invoice.refresh_from_db()
    return server.objects("invoiceitem", invoice=invoice.stripe_invoice_id)


def item_ids(invoice: Invoice) -> list[str]:
    return list(invoice.lines.order_by("position").values_list("stripe_invoice_item_id", flat=True))


def sync(invoice: Invoice) -> Invoice:
    return stripe_sync_invoice(invoice=invoice, now=NOW)


# --------------------------------------------------------------------------- happy path


def test_finalized_invoice_becomes_a_finalized_stripe_invoice_with_one_item_per_line(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["40.00", "216.80", "-25.68"])

    invoice = sync(invoice)

    assert invoice.stripe_state == State.SYNCED
    assert invoice.stripe_error == "" and invoice.stripe_next_attempt_at is None
    remote = fake_stripe.get(invoice.stripe_invoice_id)
    assert remote["status"] == "open"
    assert remote["collection_method"] == "send_invoice"
    assert remote["auto_advance"] is False
    assert remote["currency"] == "usd"
    assert remote["due_date"] == remote["created"] + 30 * 86400
    assert remote["metadata"] == {"invoice_id": str(invoice.pk), "number": invoice.number}
    assert remote["total"] == 4000 + 21680 - 2568
    create = posts(fake_stripe, "/v1/invoices")[0]
    assert create.params["pending_invoice_items_behavior"] == "exclude"
    items = stripe_items(fake_stripe, invoice)
    assert [(i["amount"], i["metadata"]["line_position"]) for i in items] == [
        (4000, "1"), (21680, "2"), (-2568, "3"),
    ]
    assert {i["metadata"]["invoice_id"] for i in items} == {str(invoice.pk)}
    assert item_ids(invoice) == [i["id"] for i in items]


def test_stripe_customer_is_created_once_and_reused(stripe_settings, fake_stripe, make_invoice):
    first = make_invoice(["10.00"])
    second = make_invoice(["20.00"], customer=first.customer)

    sync(first)
    sync(second)

    customers = fake_stripe.objects("customer")
    assert len(customers) == 1
    assert customers[0]["metadata"] == {"customer_external_id": first.customer.external_id}
    assert Customer.objects.get(pk=first.customer_id).stripe_customer_id == customers[0]["id"]
    assert len(posts(fake_stripe, "/v1/customers")) == 1
    assert {i["customer"] for i in fake_stripe.objects("invoice")} == {customers[0]["id"]}


def test_jpy_invoice_is_sent_in_whole_yen(stripe_settings, fake_stripe, make_invoice):
    invoice = sync(make_invoice(["12345", "-345"], currency="JPY"))

    remote = fake_stripe.get(invoice.stripe_invoice_id)
    assert remote["currency"] == "jpy"
    assert [i["amount"] for i in stripe_items(fake_stripe, invoice)] == [12345, -345]
    assert remote["total"] == 12000


def test_every_write_carries_an_idempotency_key_built_from_our_row_ids(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = sync(make_invoice(["1.00", "2.00"]))

    writes = [(r.path, r.idempotency_key) for r in fake_stripe.requests if r.method == "POST"]
    sid, pk = invoice.stripe_invoice_id, invoice.pk
    assert writes == [
        ("/v1/customers", customer_idempotency_key(invoice.customer)),
        ("/v1/invoices", f"invoice-{pk}-create"),
        ("/v1/invoiceitems", f"invoice-{pk}-line-1"),
        ("/v1/invoiceitems", f"invoice-{pk}-line-2"),
        (f"/v1/invoices/{sid}/finalize", f"invoice-{pk}-finalize"),
    ]


def test_the_customer_key_names_the_row_and_its_creation(make_invoice):
    customer = make_invoice(["1.00"]).customer
    created = customer.created_at.astimezone(dt.UTC)
    assert customer_idempotency_key(customer) == \
        f"customer-{customer.pk}-{created:%Y%m%dT%H%M%S%f}"
    # The same id in another environment, or after a database reset, is another key.
    elsewhere = Customer(pk=customer.pk, created_at=created + dt.timedelta(microseconds=1))
    assert customer_idempotency_key(elsewhere) != customer_idempotency_key(customer)


def test_a_synced_invoice_is_not_pushed_again(stripe_settings, fake_stripe, make_invoice):
    invoice = sync(make_invoice(["5.00"]))
    count = len(fake_stripe.requests)

    sync(invoice)

    assert len(fake_stripe.requests) == count


def test_finalizing_then_queueing_syncs_after_commit(
    stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks
):
    draft = make_invoice(["99.00"], status=Invoice.Status.DRAFT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queue_invoice_sync(invoice_finalize(invoice=draft, now=NOW))
        assert fake_stripe.requests == []  # nothing leaves before the commit

    assert len(callbacks) == 1
    draft.refresh_from_db()
    assert draft.stripe_state == State.SYNCED
    assert fake_stripe.get(draft.stripe_invoice_id)["total"] == 9900


def test_finalizing_through_the_api_syncs_the_invoice(
    stripe_settings, fake_stripe, make_invoice, api, django_capture_on_commit_callbacks
):
    draft = make_invoice(["12.50"], status=Invoice.Status.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/invoices/{draft.pk}/finalize")

    assert response.status_code == 200, response.content
    draft.refresh_from_db()
    assert draft.stripe_state == State.SYNCED
    assert fake_stripe.get(draft.stripe_invoice_id)["total"] == 1250


def test_a_queued_sync_is_dropped_when_the_transaction_rolls_back(
    stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks
):
    draft = make_invoice(["5.00"], status=Invoice.Status.DRAFT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, \
            pytest.raises(RuntimeError), transaction.atomic():
        queue_invoice_sync(invoice_finalize(invoice=draft, now=NOW))
        raise RuntimeError("the caller fails after finalizing")

    assert callbacks == []
    assert fake_stripe.requests == []
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.DRAFT


def test_a_broker_outage_leaves_the_invoice_pending_for_the_scheduled_retry(
    stripe_settings, fake_stripe, make_invoice, monkeypatch, django_capture_on_commit_callbacks
):
    invoice = make_invoice(["5.00"], stripe_state=State.NOT_SYNCED)

    def broker_down(*args):
        raise OSError("connection refused")

    monkeypatch.setattr(sync_invoice_to_stripe, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_sync(invoice)  # logs the outage; the caller's commit stands

    invoice.refresh_from_db()
    assert invoice.stripe_state == State.PENDING
    assert fake_stripe.requests == []
    lease_over = invoice.stripe_next_attempt_at
    assert stripe_sync_due(now=lease_over) == [str(invoice.pk)]


def test_auto_finalize_task_queues_the_sync_of_each_invoice_it_finalizes(
    stripe_settings, fake_stripe, make_invoice, settings, django_capture_on_commit_callbacks
):
    settings.BILLING_REVIEW_WINDOW_SECONDS = 0
    draft = make_invoice(["7.00"], status=Invoice.Status.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        assert auto_finalize_drafts.delay().get() == 1

    draft.refresh_from_db()
    assert draft.status == Invoice.Status.FINALIZED
    assert draft.stripe_state == State.SYNCED


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("fault", ["error_500", "timeout_after_write", "rate_limit"])
def test_sync_survives_a_transient_fault_without_a_duplicate_item(
    stripe_settings, fake_stripe, make_invoice, fault
):
    invoice = make_invoice(["40.00", "-5.00", "7.50"])
    fake_stripe.inject_fault("POST", "/v1/invoiceitems", fault, times=1)

    # throw=False: let Celery's autoretry run the task again, as a worker would (the test
    # settings otherwise propagate the Retry to the caller).
    result = sync_invoice_to_stripe.apply(args=[str(invoice.pk)], throw=False)

    assert result.get() == State.SYNCED
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.SYNCED
    items = stripe_items(fake_stripe, invoice)
    assert len(items) == 3
    assert item_ids(invoice) == [i["id"] for i in items]
    assert fake_stripe.get(invoice.stripe_invoice_id)["total"] == 4250
    keys = [r.idempotency_key for r in posts(fake_stripe, "/v1/invoiceitems")]
    assert set(keys) == {f"invoice-{invoice.pk}-line-{n}" for n in (1, 2, 3)}
    # A 500 or a lost answer is retried by the SDK under the same key; a rate limit is
    # not, so the task failed once, recorded it, and Celery ran it again.
    assert len(keys) == 4
    assert invoice.stripe_attempts == (1 if fault == "rate_limit" else 0)


def test_failure_is_recorded_on_the_invoice_and_the_scheduled_retry_finishes_it(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["40.00", "2.00"])
    # Finalize fails on every SDK attempt (1 + 2 retries); the items are in by then.
    fake_stripe.inject_fault("POST", "/v1/invoices/", "error_500", times=3)

    with pytest.raises(StripeSyncTransient):
        sync(invoice)

    invoice.refresh_from_db()
    assert invoice.stripe_state == State.FAILED
    assert invoice.stripe_attempts == 1
    assert invoice.stripe_error.startswith("APIError:")
    assert invoice.stripe_next_attempt_at == NOW + dt.timedelta(minutes=1)
    assert all(item_ids(invoice))
    assert stripe_sync_due(now=NOW + dt.timedelta(seconds=59)) == []
    assert stripe_sync_due(now=NOW + dt.timedelta(minutes=1)) == [str(invoice.pk)]

    claimed = stripe_retry_claim(now=NOW + dt.timedelta(minutes=1))

    assert claimed == [str(invoice.pk)]
    assert stripe_retry_claim(now=NOW + dt.timedelta(minutes=1)) == []  # leased: once only
    sync_invoice_to_stripe.delay(claimed[0])
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.SYNCED
    assert fake_stripe.get(invoice.stripe_invoice_id)["status"] == "open"
    assert len(stripe_items(fake_stripe, invoice)) == 2
    assert len(posts(fake_stripe, "/v1/invoiceitems")) == 2


def test_scheduled_retry_task_uses_the_clock(stripe_settings, fake_stripe, make_invoice):
    invoice = make_invoice(["3.00"])
    fake_stripe.inject_fault("POST", "/v1/invoices/", "error_500", times=3)
    with pytest.raises(StripeSyncTransient):
        sync(invoice)

    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=True):
        assert retry_stripe_sync.delay().get() == 0
    with time_machine.travel(NOW + dt.timedelta(minutes=2), tick=True):
        assert retry_stripe_sync.delay().get() == 1

    invoice.refresh_from_db()
    assert invoice.stripe_state == State.SYNCED


def test_backoff_doubles_per_failure_up_to_an_hour():
    delays = [stripe_sync.retry_delay(n) for n in (1, 2, 3, 7, 20)]
    assert delays == [dt.timedelta(minutes=m) for m in (1, 2, 4, 60, 60)]


@pytest.mark.parametrize("keys_expired", [False, True])
def test_rerun_after_a_lost_answer_resumes_without_duplicates(
    stripe_settings, fake_stripe, make_invoice, keys_expired
):
    invoice = make_invoice(["40.00", "5.00", "1.25"])
    # Stripe writes line 1 but every answer to it is lost: we never learn its id.
    fake_stripe.inject_fault("POST", "/v1/invoiceitems", "timeout_after_write", times=3)
    with pytest.raises(StripeSyncTransient):
        sync(invoice)
    invoice.refresh_from_db()
    assert item_ids(invoice) == ["", "", ""]
    assert len(stripe_items(fake_stripe, invoice)) == 1
    if keys_expired:
        # Stripe forgets idempotency keys after 24 h; only the item listing protects us.
        fake_stripe._idempotency.clear()

    invoice = sync(invoice)

    items = stripe_items(fake_stripe, invoice)
    assert [i["metadata"]["line_position"] for i in items] == ["1", "2", "3"]
    assert item_ids(invoice) == [i["id"] for i in items]
    assert fake_stripe.get(invoice.stripe_invoice_id)["total"] == 4625
    assert len(fake_stripe.objects("invoice")) == 1


def test_permanent_error_is_recorded_and_not_retried(stripe_settings, fake_stripe, make_invoice):
    customer = CustomerFactory(email="no-at-sign")  # Stripe refuses this email
    invoice = make_invoice(["10.00"], customer=customer)

    result = sync_invoice_to_stripe.delay(str(invoice.pk)).get()

    invoice.refresh_from_db()
    assert result.startswith("failed: InvalidRequestError")
    assert invoice.stripe_state == State.FAILED
    assert invoice.stripe_attempts == 1  # Celery did not spin on it
    assert invoice.stripe_next_attempt_at is None
    assert "email" in invoice.stripe_error.lower()
    assert stripe_sync_due(now=NOW + dt.timedelta(days=30)) == []


def test_total_mismatch_with_stripe_is_a_permanent_failure(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["10.00"])
    fake_stripe.inject_fault("POST", "/v1/invoices/", "error_500", times=3)
    with pytest.raises(StripeSyncTransient):
        sync(invoice)
    invoice.refresh_from_db()
    # Someone adds an item to the Stripe draft by hand.
    stripe_client().v1.invoice_items.create({
        "customer": Customer.objects.get(pk=invoice.customer_id).stripe_customer_id,
        "invoice": invoice.stripe_invoice_id, "amount": 500,
    })

    with pytest.raises(StripeSyncFailed) as raised:
        sync(invoice)

    assert not isinstance(raised.value, StripeSyncTransient)
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.FAILED and invoice.stripe_next_attempt_at is None
    assert "totals 1500" in invoice.stripe_error and "1000" in invoice.stripe_error


def test_stuck_syncs_are_due(stripe_settings, make_invoice):
    lost = make_invoice(["1.00"], stripe_state=State.PENDING)
    Invoice.objects.filter(pk=lost.pk).update(stripe_next_attempt_at=NOW - dt.timedelta(seconds=1))
    never_queued = make_invoice(["1.00"], finalized_at=NOW - dt.timedelta(minutes=11))
    running = make_invoice(["1.00"], stripe_state=State.PENDING)
    Invoice.objects.filter(pk=running.pk).update(
        stripe_next_attempt_at=NOW + dt.timedelta(minutes=5)
    )
    make_invoice(["1.00"], finalized_at=NOW - dt.timedelta(minutes=1))  # just finalized
    make_invoice(["1.00"], status=Invoice.Status.DRAFT)
    make_invoice(["1.00"], stripe_state=State.OFF)

    assert set(stripe_sync_due(now=NOW)) == {str(lost.pk), str(never_queued.pk)}


# --------------------------------------------------------------------------- void


def test_voiding_a_synced_invoice_voids_it_in_stripe(
    stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks
):
    invoice = sync(make_invoice(["40.00"]))

    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_void(invoice_void(invoice=invoice, now=NOW))

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.VOID
    assert invoice.stripe_state == State.SYNCED
    assert fake_stripe.get(invoice.stripe_invoice_id)["status"] == "void"
    void = posts(fake_stripe, f"/v1/invoices/{invoice.stripe_invoice_id}/void")
    assert [r.idempotency_key for r in void] == [f"invoice-{invoice.pk}-void"]


def test_voiding_an_invoice_that_never_reached_stripe_sends_nothing(
    stripe_settings, fake_stripe, make_invoice, django_capture_on_commit_callbacks
):
    invoice = make_invoice(["40.00"])

    with django_capture_on_commit_callbacks(execute=True):
        queue_invoice_void(invoice_void(invoice=invoice, now=NOW))
    stripe_void_invoice(invoice=invoice, now=NOW)

    assert fake_stripe.requests == []
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.NOT_SYNCED


def test_void_of_a_half_synced_invoice_deletes_the_stripe_draft(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["40.00"])
    fake_stripe.inject_fault("POST", "/v1/invoices/", "error_500", times=3)
    with pytest.raises(StripeSyncTransient):
        sync(invoice)
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.VOID, voided_at=NOW)

    invoice = stripe_void_invoice(invoice=invoice, now=NOW)

    assert fake_stripe.objects("invoice") == []
    assert invoice.stripe_state == State.SYNCED
    assert stripe_void_invoice(invoice=invoice, now=NOW).stripe_state == State.SYNCED


# --------------------------------------------------------------------------- off


def test_without_an_api_key_sync_is_off_and_says_so(settings, fake_stripe, make_invoice):
    settings.STRIPE_API_KEY = ""
    invoice = make_invoice(["40.00"])

    assert stripe_sync_start(invoice_id=invoice.pk, now=NOW) is False

    invoice.refresh_from_db()
    assert invoice.stripe_state == State.OFF
    with pytest.raises(StripeSyncOff) as raised:
        sync(invoice)
    assert raised.value.messages == [OFF_MESSAGE]
    assert stripe_retry_claim(now=NOW) == []
    assert fake_stripe.requests == []
    assert [w.id for w in stripe_sync_configured(None)] == ["billing.W010"]


def test_finalizing_without_an_api_key_marks_the_invoice_off(
    settings, make_invoice, django_capture_on_commit_callbacks
):
    settings.STRIPE_API_KEY = ""
    draft = make_invoice(["1.00"], status=Invoice.Status.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_finalize(invoice=draft, now=NOW)

    assert invoice.stripe_state == State.OFF


def test_no_off_warning_with_a_key(stripe_settings):
    assert stripe_sync_configured(None) == []


def test_draft_is_never_synced(stripe_settings, fake_stripe):
    draft = InvoiceFactory()
    with pytest.raises(Exception, match="Only finalized invoices"):
        sync(draft)
    assert fake_stripe.requests == []


# --------------------------------------------------------------------------- admin action


def _run_action(queryset) -> list[tuple[str, int]]:
    shown: list[tuple[str, int]] = []
    admin = SimpleNamespace(message_user=lambda request, text, level: shown.append((text, level)))
    retry_action(admin, None, queryset)
    return shown


def test_admin_retry_action_syncs_and_reports(stripe_settings, fake_stripe, make_invoice):
    invoice = make_invoice(["12.00"], stripe_state=State.OFF)

    shown = _run_action(Invoice.objects.filter(pk=invoice.pk))

    assert shown == [("1 invoice(s) in step with Stripe.", messages.SUCCESS)]
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.SYNCED


def test_admin_retry_action_says_sync_is_off(settings, make_invoice):
    settings.STRIPE_API_KEY = ""
    invoice = make_invoice(["12.00"])

    assert _run_action(Invoice.objects.filter(pk=invoice.pk)) == [(OFF_MESSAGE, messages.WARNING)]


def test_admin_retry_action_reports_failures(stripe_settings, fake_stripe, make_invoice):
    invoice = make_invoice(["12.00"], customer=CustomerFactory(email="broken"))

    (text, level), = _run_action(Invoice.objects.filter(pk=invoice.pk))

    assert level == messages.ERROR
    assert text.startswith(f"{invoice.number}: InvalidRequestError")


def test_sdk_errors_are_classified():
    assert stripe_sync._is_transient(stripe.APIConnectionError("down"))
    assert stripe_sync._is_transient(stripe.RateLimitError("slow down", http_status=429))
    assert stripe_sync._is_transient(stripe.APIError("boom", http_status=500))
    assert not stripe_sync._is_permanent(stripe.AuthenticationError("bad key", http_status=401))
    assert stripe_sync._is_permanent(stripe.InvalidRequestError("nope", "email", http_status=400))


# --------------------------------------------------------------------------- concurrency


def _in_thread(target, *args):
    def run():
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.postgres
def test_a_sync_waits_while_another_worker_holds_the_invoice(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["10.00"])
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        key = stripe_sync.advisory_key(invoice.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
            locked.set()
            release.wait(timeout=30)
            # Unlock explicitly: a closed connection's lock is freed only once the server
            # notices, which could be after the test's next sync.
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

    thread = _in_thread(hold_lock)
    try:
        assert locked.wait(timeout=30)
        with pytest.raises(StripeSyncBusy):
            sync(invoice)
        with pytest.raises(Retry):  # the task hands it back to Celery to try later
            sync_invoice_to_stripe.delay(str(invoice.pk))
    finally:
        release.set()
        thread.join()

    assert fake_stripe.requests == []
    invoice.refresh_from_db()
    assert invoice.stripe_attempts == 0 and invoice.stripe_error == ""
    assert sync(invoice).stripe_state == State.SYNCED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_syncing_the_same_invoice_bill_it_once(
    stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["40.00", "2.50", "-1.00"])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker():
        barrier.wait()
        try:
            outcomes.append(sync(invoice).stripe_state)
        except StripeSyncBusy:
            outcomes.append("busy")

    threads = [_in_thread(worker) for _ in range(2)]
    for thread in threads:
        thread.join()

    assert State.SYNCED in outcomes
    assert len(fake_stripe.objects("invoice")) == 1
    assert len(stripe_items(fake_stripe, invoice)) == 3
    assert len(posts(fake_stripe, "/v1/customers")) == 1


def test_ops_can_retry_a_failed_sync_from_the_invoice_admin(
    admin_client, stripe_settings, fake_stripe, make_invoice
):
    invoice = make_invoice(["12.00"], stripe_state=State.FAILED)

    response = admin_client.post("/admin/invoices/invoice/", {
        "action": "retry_stripe_sync", "_selected_action": [str(invoice.pk)],
    }, follow=True)

    assert response.status_code == 200
    assert b"1 invoice(s) in step with Stripe." in response.content
    invoice.refresh_from_db()
    assert invoice.stripe_state == State.SYNCED


def test_an_unexpected_error_is_recorded_for_a_later_retry(
    stripe_settings, fake_stripe, make_invoice, monkeypatch
):
    invoice = make_invoice(["1.00"])

    def broken(client, invoice, *, now):
        raise RuntimeError("bug")

    monkeypatch.setattr(stripe_sync, "push_invoice", broken)

    with pytest.raises(StripeSyncFailed):
        sync(invoice)

    invoice.refresh_from_db()
    assert invoice.stripe_state == State.FAILED
    assert invoice.stripe_error == "RuntimeError: bug"
    assert invoice.stripe_next_attempt_at == NOW + dt.timedelta(minutes=1)
