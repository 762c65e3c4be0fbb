"""Drive the fake Stripe server with the real ``stripe`` SDK (no Django needed)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import stripe

from tests.fakestripe import FakeStripe, make_event, sign_webhook_payload
from tests.fakestripe.encoding import parse_form

CLIENT_TIMEOUT = 1.0  # seconds; the timeout fault sleeps longer than this


@pytest.fixture(scope="module")
def _running_server():
    with FakeStripe(timeout_fault_delay=CLIENT_TIMEOUT + 0.5) as server:
        yield server


@pytest.fixture
def server(_running_server):
    _running_server.reset()
    yield _running_server
    assert _running_server.errors == [], _running_server.errors[0]


def make_client(server: FakeStripe, *, api_key: str | None = None, retries: int = 2):
    return stripe.StripeClient(
        api_key or server.api_key,
        base_addresses={"api": server.url},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=CLIENT_TIMEOUT),
    )


@pytest.fixture
def client(server):
    return make_client(server)


@pytest.fixture
def customer(client):
    return client.v1.customers.create(
        {"name": "ACME GmbH", "email": "billing@acme.test", "metadata": {"org_id": "42"}}
    )


@pytest.fixture
def draft_invoice(client, customer):
    return client.v1.invoices.create(
        {
            "customer": customer.id,
            "currency": "eur",
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": "March usage",
            "metadata": {"invoice_id": "inv-1"},
        }
    )


def item_requests(server):
    return [r for r in server.requests if r.method == "POST" and r.path == "/v1/invoiceitems"]


# --------------------------------------------------------------------------- basics


def test_binds_to_loopback_only(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server._httpd.server_address[0] == "127.0.0.1"


def test_parse_form_nested_keys():
    parsed = parse_form(
        "metadata[invoice_id]=7&metadata[0]=x&expand[0]=customer&expand[1]=lines"
        "&period[start]=1&period[end]=2&expand2[]=a&expand2[]=b&name=A+B"
    )
    assert parsed == {
        "metadata": {"invoice_id": "7", "0": "x"},
        "expand": ["customer", "lines"],
        "period": {"start": "1", "end": "2"},
        "expand2": ["a", "b"],
        "name": "A B",
    }


def test_customer_create_update_list(client, server, customer):
    assert customer.id.startswith("cus_")
    assert customer.object == "customer" and customer.livemode is False
    assert customer.metadata.to_dict() == {"org_id": "42"}
    assert customer.last_response.request_id.startswith("req_")

    updated = client.v1.customers.update(
        customer.id, {"name": "ACME AG", "metadata": {"org_id": "", "plan": "pro"}}
    )
    assert updated.name == "ACME AG"
    assert updated.metadata.to_dict() == {"plan": "pro"}
    assert client.v1.customers.retrieve(customer.id).name == "ACME AG"

    for n in range(3):
        client.v1.customers.create({"name": f"c{n}"})
    page = client.v1.customers.list({"limit": 2})
    assert page.object == "list" and page.url == "/v1/customers"
    assert len(page.data) == 2 and page.has_more is True
    assert len(list(page.auto_paging_iter())) == 4
    assert len(server.objects("customer")) == 4


def test_invoice_lifecycle(client, server, customer, draft_invoice):
    inv = draft_invoice
    assert inv.id.startswith("in_") and inv.status == "draft" and inv.number is None
    assert inv.currency == "eur" and inv.collection_method == "send_invoice"
    assert inv.due_date == inv.created + 14 * 86400
    assert inv.total == 0 and inv.lines.object == "list" and inv.lines.data == []

    first = client.v1.invoice_items.create(
        {
            "customer": customer.id,
            "invoice": inv.id,
            "amount": 1999,
            "currency": "eur",
            "description": "Seats",
            "metadata": {"line_id": "1"},
            "period": {"start": 1_700_000_000, "end": 1_702_592_000},
        }
    )
    second = client.v1.invoice_items.create(
        {
            "customer": customer.id,
            "invoice": inv.id,
            "unit_amount_decimal": "0.125",
            "quantity": 1003,
            "description": "API calls",
        }
    )
    assert first.id.startswith("ii_") and first.invoice == inv.id
    assert first.period.start == 1_700_000_000
    assert second.amount == 125  # 125.375 rounded half-up
    assert second.currency == "eur"  # inherited from the invoice

    inv = client.v1.invoices.retrieve(inv.id, {"expand": ["customer"]})
    assert inv.customer.id == customer.id
    assert (inv.subtotal, inv.total, inv.amount_due) == (2124, 2124, 2124)
    items = {line.parent.invoice_item_details.invoice_item for line in inv.lines.data}
    assert items == {first.id, second.id}

    listed = client.v1.invoice_items.list({"invoice": inv.id})
    assert {i.id for i in listed.data} == {first.id, second.id}
    assert [i.id for i in client.v1.invoices.list({"customer": customer.id}).data] == [inv.id]

    inv = client.v1.invoices.finalize_invoice(inv.id)
    assert inv.status == "open" and inv.number.endswith("-0001")
    assert inv.status_transitions.finalized_at is not None

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.finalize_invoice(inv.id)
    assert exc.value.http_status == 400
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create({"customer": customer.id, "invoice": inv.id, "amount": 1})
    assert exc.value.code == "invoice_not_editable"

    inv = client.v1.invoices.void_invoice(inv.id)
    assert inv.status == "void" and inv.amount_remaining == 0
    assert server.objects("invoice")[0]["status"] == "void"
    assert len(server.objects("invoiceitem", invoice=inv.id)) == 2


def test_void_draft_is_rejected_and_pay_marks_paid(client, customer, draft_invoice):
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.void_invoice(draft_invoice.id)
    client.v1.invoice_items.create(
        {"customer": customer.id, "invoice": draft_invoice.id, "amount": 500}
    )
    client.v1.invoices.finalize_invoice(draft_invoice.id)
    paid = client.v1.invoices.pay(draft_invoice.id, {"paid_out_of_band": True})
    assert paid.status == "paid" and paid.amount_paid == 500 and paid.amount_remaining == 0


def test_zero_amount_invoice_is_paid_on_finalize(client, draft_invoice):
    assert client.v1.invoices.finalize_invoice(draft_invoice.id).status == "paid"


def test_pending_items_included_and_deleted(client, server, customer):
    pending = client.v1.invoice_items.create({"customer": customer.id, "amount": 300})
    assert pending.invoice is None and pending.currency == "usd"
    doomed = client.v1.invoice_items.create({"customer": customer.id, "amount": 1})
    assert client.v1.invoice_items.delete(doomed.id).deleted is True
    inv = client.v1.invoices.create(
        {"customer": customer.id, "pending_invoice_items_behavior": "include"}
    )
    assert inv.total == 300 and inv.collection_method == "charge_automatically"
    assert server.get(pending.id)["invoice"] == inv.id


# --------------------------------------------------------------------------- errors


def test_unknown_id_is_404_resource_missing(client):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve("cus_missing")
    err = exc.value
    assert err.http_status == 404 and err.code == "resource_missing" and err.param == "id"
    assert err.json_body["error"]["message"] == "No such customer: 'cus_missing'"
    assert err.request_id.startswith("req_")


def test_missing_and_unknown_params(client, customer):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoices.create({"currency": "eur"})
    assert exc.value.param == "customer" and exc.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create({"customer": customer.id, "amont": 5})
    assert exc.value.param == "amont" and exc.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.invoice_items.create({"customer": "cus_nope", "amount": 5})
    assert exc.value.http_status == 404 and exc.value.param == "customer"


def test_bad_api_key_is_401(server):
    bad = make_client(server, api_key="sk_test_wrong_key_123")
    with pytest.raises(stripe.AuthenticationError) as exc:
        bad.v1.customers.list()
    assert exc.value.http_status == 401
    assert exc.value.json_body["error"]["type"] == "invalid_request_error"
    resp = requests.get(f"{server.url}/v1/customers", timeout=2)
    assert resp.status_code == 401 and resp.headers["Request-Id"].startswith("req_")


# --------------------------------------------------------------------------- idempotency


def test_idempotent_replay_returns_same_object(client, server, customer):
    params = {"customer": customer.id, "amount": 700, "metadata": {"usage_id": "9"}}
    first = client.v1.invoice_items.create(params, {"idempotency_key": "sync-ii-9"})
    again = client.v1.invoice_items.create(params, {"idempotency_key": "sync-ii-9"})
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert first.last_response.headers.get("Idempotent-Replayed") is None
    assert len(server.objects("invoiceitem")) == 1


def test_same_key_different_params_is_idempotency_error(client, server, customer):
    client.v1.invoice_items.create(
        {"customer": customer.id, "amount": 700}, {"idempotency_key": "sync-ii-10"}
    )
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.invoice_items.create(
            {"customer": customer.id, "amount": 701}, {"idempotency_key": "sync-ii-10"}
        )
    assert exc.value.json_body["error"]["type"] == "idempotency_error"
    assert len(server.objects("invoiceitem")) == 1


def test_concurrent_requests_with_same_key_write_once(server, customer):
    results: list[str] = []

    def post():
        resp = requests.post(
            f"{server.url}/v1/invoiceitems",
            data={"customer": customer.id, "amount": "5"},
            headers={"Authorization": f"Bearer {server.api_key}", "Idempotency-Key": "race"},
            timeout=5,
        )
        results.append(resp.json()["id"])

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert len(server.objects("invoiceitem")) == 1


# --------------------------------------------------------------------------- faults


def test_injected_500_is_retried_with_same_key(client, server, customer):
    server.inject_fault("POST", "/v1/invoiceitems", "error_500")
    item = client.v1.invoice_items.create({"customer": customer.id, "amount": 100})
    assert [i["id"] for i in server.objects("invoiceitem")] == [item.id]
    sent = item_requests(server)
    assert len(sent) == 2 and sent[0].idempotency_key == sent[1].idempotency_key
    assert server.pending_faults == []


def test_timeout_after_write_is_retried_and_replayed(client, server, customer):
    server.inject_fault("POST", "/v1/invoiceitems", "timeout_after_write")
    started = time.monotonic()
    item = client.v1.invoice_items.create({"customer": customer.id, "amount": 100})
    assert time.monotonic() - started < 5
    assert item.last_response.headers.get("Idempotent-Replayed") == "true"
    assert [i["id"] for i in server.objects("invoiceitem")] == [item.id]
    sent = item_requests(server)
    assert len(sent) == 2 and sent[0].idempotency_key == sent[1].idempotency_key


def test_dropped_connection_without_retries_still_wrote(server, customer):
    no_retry = make_client(server, retries=0)
    server.inject_fault("POST", "/v1/invoiceitems", "timeout_after_write", delay=0)
    with pytest.raises(stripe.APIConnectionError):
        no_retry.v1.invoice_items.create({"customer": customer.id, "amount": 100})
    assert len(server.objects("invoiceitem")) == 1


def test_rate_limit_fault(client, server, customer):
    server.inject_fault("*", "/v1/invoiceitems", "rate_limit", times=1)
    with pytest.raises(stripe.RateLimitError) as exc:
        client.v1.invoice_items.create({"customer": customer.id, "amount": 100})
    assert exc.value.http_status == 429
    assert server.objects("invoiceitem") == []
    client.v1.invoice_items.create({"customer": customer.id, "amount": 100})
    assert len(server.objects("invoiceitem")) == 1


# --------------------------------------------------------------------------- webhooks


def test_webhook_signature_verifies_and_tampering_fails(server):
    secret = "whsec_test_secret"
    event = make_event("invoice.paid", {"id": "in_123", "object": "invoice", "status": "paid"})
    payload = json.dumps(event).encode()
    header = sign_webhook_payload(payload, secret)

    constructed = stripe.Webhook.construct_event(payload, header, secret)
    assert constructed.type == "invoice.paid"
    assert constructed.data.object.id == "in_123"
    assert constructed.id.startswith("evt_")

    tampered = payload.replace(b'"paid"', b'"void"')
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(tampered, header, secret)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")
    stale = sign_webhook_payload(payload, secret, timestamp=int(time.time()) - 3600)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, stale, secret)
