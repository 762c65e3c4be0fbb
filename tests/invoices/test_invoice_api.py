"""Invoice API (SPEC 6-7): shapes, filters, actions, errors and auth."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from pypdf import PdfReader

from invoices.models import BillingRun, Invoice
from invoices.services import billing_run, invoice_finalize, invoice_mark_paid
from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version
from tests.invoices.billing_fixtures import add_events, at, team_version, worked_example

pytestmark = pytest.mark.django_db

NOV_1_1AM = at(2026, 11, 1, 1)


@pytest.fixture
def invoice() -> Invoice:
    worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    return Invoice.objects.get()


def test_invoice_detail_has_the_spec_shape(api, invoice):
    body = api.get(f"/api/v1/invoices/{invoice.pk}").json()

    assert {k: body[k] for k in ("id", "customer", "status", "number", "period_start",
                                 "period_end", "currency", "plan", "plan_version", "total")} == {
        "id": str(invoice.pk), "customer": "acme", "status": "draft", "number": None,
        "period_start": "2026-10-01T00:00:00Z", "period_end": "2026-11-01T00:00:00Z",
        "currency": "USD", "plan": "team", "plan_version": 1, "total": "216.80",
    }
    seat, tasks = body["lines"]
    assert {k: seat[k] for k in ("kind", "quantity", "unit_price", "amount")} == {
        "kind": "seat", "quantity": "4.322581", "unit_price": "40.00", "amount": "172.90"}
    assert {k: tasks[k] for k in ("kind", "metric", "value", "included", "billable", "amount",
                                  "tiers", "unit_price", "quantity")} == {
        "kind": "usage", "metric": "tasks", "value": "5200", "included": "4322",
        "billable": "878", "amount": "43.90", "tiers": [], "unit_price": "0.05",
        "quantity": "878"}
    assert "Tasks completed: 5200 used, 4322 included, 878 billable" in tasks["description"]


def test_graduated_tiers_are_listed_on_the_line(api):
    MetricFactory(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                  field="total_tokens")
    version = make_version(plan=PlanFactory(code="api"), seat_price="0", charges=[
        {"metric": "tokens", "model": "graduated", "tiers": [
            {"up_to": 1000000, "unit_price": "0.000002", "flat_fee": "0"},
            {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]}])
    customer = CustomerFactory(external_id="tok")
    from plans.services import contract_create

    contract_create(customer=customer, plan_version=version, start_date=dt.date(2026, 10, 1))
    add_events(customer, count=3, when=at(2026, 10, 3), event_type="ai.call",
               properties={"total_tokens": 500000})
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    body = api.get(f"/api/v1/invoices/{Invoice.objects.get().pk}").json()

    (line,) = body["lines"]
    assert line["value"] == "1500000" and line["amount"] == "2.50"
    assert line["tiers"] == [
        {"up_to": "1000000", "units": "1000000", "unit_price": "0.000002", "flat_fee": "0.00",
         "amount": "2.00"},
        {"up_to": None, "units": "500000", "unit_price": "0.000001", "flat_fee": "0.00",
         "amount": "0.50"},
    ]


def test_invoice_list_filters_by_customer_and_status_and_paginates(api):
    version = team_version()
    for name in ("a", "b"):
        worked_example(external_id=name, version=version)
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    invoice_finalize(invoice=Invoice.objects.get(customer__external_id="a"), now=NOV_1_1AM)

    everything = api.get("/api/v1/invoices").json()
    only_a = api.get("/api/v1/invoices?customer=a").json()
    drafts = api.get("/api/v1/invoices?status=draft").json()
    page = api.get("/api/v1/invoices?limit=1").json()

    assert everything["count"] == 2
    assert [i["customer"] for i in only_a["results"]] == ["a"]
    assert [i["customer"] for i in drafts["results"]] == ["b"]
    assert len(page["results"]) == 1 and page["next"]


def test_invoice_list_rejects_bad_filters(api, invoice):
    bad_status = api.get("/api/v1/invoices?status=open")
    unknown_customer = api.get("/api/v1/invoices?customer=nobody")

    assert bad_status.status_code == 400 and "status" in bad_status.json()["errors"]
    # A filter is input, like the contract list's: 400 naming it (the schema lists no 404).
    assert unknown_customer.status_code == 400
    assert unknown_customer.json()["errors"] == {
        "customer": ["No customer with external_id 'nobody'."]}


def test_finalize_then_void_over_the_api(api, invoice):
    finalized = api.post(f"/api/v1/invoices/{invoice.pk}/finalize")
    voided = api.post(f"/api/v1/invoices/{invoice.pk}/void")

    assert finalized.status_code == 200
    assert (finalized.json()["status"], finalized.json()["number"]) == ("finalized", "USD-000001")
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    assert voided.json()["voided_at"] is not None


def test_wrong_state_actions_answer_409_naming_status(api, invoice):
    invoice_mark_paid(invoice=invoice_finalize(invoice=invoice, now=NOV_1_1AM), paid_at=NOV_1_1AM)

    again = api.post(f"/api/v1/invoices/{invoice.pk}/finalize")
    void = api.post(f"/api/v1/invoices/{invoice.pk}/void")

    assert again.status_code == 409 and "status" in again.json()["errors"]
    assert void.status_code == 409 and "paid" in void.json()["errors"]["status"][0]


def test_unknown_or_malformed_invoice_id_is_404(api):
    assert api.get("/api/v1/invoices/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/api/v1/invoices/not-a-uuid").status_code == 404
    assert api.post("/api/v1/invoices/not-a-uuid/finalize").status_code == 404


def test_pdf_over_the_api_is_the_invoice_as_a_file(api, invoice):
    response = api.get(f"/api/v1/invoices/{invoice.pk}/pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == \
        f'attachment; filename="draft-invoice-{invoice.pk}.pdf"'
    text = " ".join(PdfReader(io.BytesIO(response.content)).pages[0].extract_text().split())
    assert "Draft invoice" in text and "DRAFT" in text and "Total (USD) $216.80" in text
    assert api.get(f"/api/v1/invoices/{invoice.pk}/pdf/").status_code == 200


def test_pdf_errors_are_json_whatever_the_client_accepts(api, ingest_api, anon_api, invoice):
    missing = api.get("/api/v1/invoices/nope/pdf", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["detail"] == "No invoice with id 'nope'."
    forbidden = ingest_api.get(f"/api/v1/invoices/{invoice.pk}/pdf",
                               HTTP_ACCEPT="application/pdf")
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["detail"]
    assert anon_api.get(f"/api/v1/invoices/{invoice.pk}/pdf").status_code == 401


def test_invoice_routes_need_an_admin_key(anon_api, ingest_api, invoice):
    assert anon_api.get("/api/v1/invoices").status_code == 401
    assert ingest_api.get("/api/v1/invoices").status_code == 403
    assert ingest_api.post(f"/api/v1/invoices/{invoice.pk}/finalize").status_code == 403
    assert ingest_api.post("/api/v1/billing-runs", {}, format="json").status_code == 403
    assert anon_api.get("/api/v1/customers/acme/upcoming-invoice").status_code == 401


def test_billing_run_endpoint_is_idempotent_and_answers_the_summary(api):
    worked_example()

    with time_machine.travel(at(2026, 11, 2), tick=False):
        first = api.post("/api/v1/billing-runs", {"as_of": "2026-11-01T01:00:00Z"}, format="json")
        second = api.post("/api/v1/billing-runs", {"as_of": "2026-11-01T01:00:00Z"}, format="json")

    # 202: queued for the worker; the test settings run tasks eagerly, so it is already done.
    assert first.status_code == 202
    assert {k: first.json()[k] for k in ("as_of", "status", "periods_due", "invoices_created",
                                         "failures")} == {
        "as_of": "2026-11-01T01:00:00Z", "status": "done", "periods_due": 1,
        "invoices_created": 1, "failures": []}
    assert second.json()["invoices_created"] == 0
    assert Invoice.objects.count() == 1
    detail = api.get(f"/api/v1/billing-runs/{first.json()['id']}")
    assert detail.json()["invoices_created"] == 1


def test_billing_run_defaults_to_now_and_rejects_a_bad_time(api):
    worked_example()
    with time_machine.travel(at(2026, 10, 20), tick=False):
        early = api.post("/api/v1/billing-runs", {}, format="json")
    bad = api.post("/api/v1/billing-runs", {"as_of": "yesterday"}, format="json")

    assert early.json()["invoices_created"] == 0
    assert bad.status_code == 400 and "as_of" in bad.json()["errors"]
    assert BillingRun.objects.count() == 1


def test_upcoming_invoice_previews_the_period_containing_at_without_saving(api):
    worked_example()

    response = api.get("/api/v1/customers/acme/upcoming-invoice?at=2026-10-25T00:00:00Z")

    body = response.json()
    assert response.status_code == 200
    assert (body["id"], body["status"], body["number"], body["upcoming"]) == (
        None, "draft", None, True)
    assert (body["period_start"], body["period_end"]) == (
        "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z")
    assert body["total"] == "216.80"
    assert [line["amount"] for line in body["lines"]] == ["172.90", "43.90"]
    assert not Invoice.objects.exists()


def test_upcoming_invoice_defaults_to_now_and_shows_late_usage(api):
    contract = worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    invoice_finalize(invoice=Invoice.objects.get(), now=NOV_1_1AM)
    add_events(contract.customer, count=300, when=at(2026, 10, 20))

    with time_machine.travel(at(2026, 11, 10), tick=False):
        body = api.get("/api/v1/customers/acme/upcoming-invoice").json()

    assert body["period_start"] == "2026-11-01T00:00:00Z"
    late = [line for line in body["lines"] if line["kind"] == "late_usage"]
    assert [(line["amount"], line["period_start"]) for line in late] == [("15.00", "2026-10-01")]
    assert body["total"] == "215.00"


def test_upcoming_invoice_errors(api):
    CustomerFactory(external_id="nocontract")
    worked_example()

    assert api.get("/api/v1/customers/ghost/upcoming-invoice").status_code == 404
    assert api.get("/api/v1/customers/nocontract/upcoming-invoice").status_code == 404
    bad = api.get("/api/v1/customers/acme/upcoming-invoice?at=soon")
    assert bad.status_code == 400 and "at" in bad.json()["errors"]
    before = api.get("/api/v1/customers/acme/upcoming-invoice?at=2026-09-01T00:00:00Z")
    assert before.status_code == 404


def test_money_keeps_the_currency_minor_units_for_jpy(api):
    version = team_version(currency="JPY", seat_price="4000", unit_price="5")
    worked_example(version=version)
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    body = api.get(f"/api/v1/invoices/{Invoice.objects.get().pk}").json()

    # 4.322581 × 4000 = 17290.324 → 17290; 878 × 5 = 4390
    assert [line["amount"] for line in body["lines"]] == ["17290", "4390"]
    assert body["total"] == "21680" and body["lines"][0]["unit_price"] == "4000"


@pytest.mark.parametrize("at_", ["0613-04-20T04:07:40Z", "9999-12-31T23:00:00-05:00",
                                 "2201-01-01T00:00:00Z", "2026-10-25T00:00:00"])
def test_upcoming_invoice_at_outside_the_supported_years_or_without_offset_is_refused(api, at_):
    worked_example()
    response = api.get("/api/v1/customers/acme/upcoming-invoice", {"at": at_})
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["at"]


def test_upcoming_invoice_at_with_an_unencoded_plus_offset_is_read_as_utc(api):
    worked_example()
    body = api.get("/api/v1/customers/acme/upcoming-invoice?at=2026-10-25T02:00:00+02:00").json()
    assert body["at"] == "2026-10-25T00:00:00Z"
