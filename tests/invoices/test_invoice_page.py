"""The printable invoice page: shows every line's arithmetic in words; staff and the
customer's own users only (anyone else: the same 404 as an id that does not exist)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.services import billing_run, invoice_finalize
from plans.services import contract_create
from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version
from tests.invoices.billing_fixtures import add_events, at, worked_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice() -> Invoice:
    worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return invoice_finalize(invoice=Invoice.objects.get(), now=at(2026, 11, 2))


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_user("ops", password="pw-123456", is_staff=True)
    client.force_login(user)
    return client


def test_page_shows_number_status_lines_arithmetic_and_total(staff, invoice):
    html = staff.get(f"/invoices/{invoice.pk}/").content.decode()

    assert "Invoice USD-000001" in html and "finalized" in html
    assert "4.322581 seats × $40.00 = $172.90" in html
    assert "878 tasks completed over the 4,322 included (5,200 used) × $0.05 = $43.90" in html
    assert 'id="total">$216.80<' in html
    assert 'id="period">1 Oct – 31 Oct 2026<' in html
    assert "exclusive" not in html and "5.000000" not in html
    assert "@media print" in html


def test_page_lists_the_tier_breakdown(staff):
    MetricFactory(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                  field="total_tokens")
    version = make_version(plan=PlanFactory(code="api"), seat_price="0", charges=[
        {"metric": "tokens", "model": "graduated", "tiers": [
            {"up_to": 1000, "unit_price": "0.01", "flat_fee": "1.00"},
            {"up_to": None, "unit_price": "0.005"}]}])
    customer = CustomerFactory(external_id="tok")
    contract_create(customer=customer, plan_version=version, start_date=dt.date(2026, 10, 1))
    add_events(customer, count=1, when=at(2026, 10, 3), event_type="ai.call",
               properties={"total_tokens": 3000})
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))

    html = staff.get(f"/invoices/{Invoice.objects.get().pk}/").content.decode()

    assert "Tier breakdown" in html
    assert html.count('class="tier"') == 2
    assert "1,000 tokens (up to 1,000) × $0.01 + $1.00 flat = $11.00" in html
    assert "2,000 tokens (beyond) × $0.005 = $10.00" in html
    assert ">$21.00<" in html  # 1000 × 0.01 + 1.00 + 2000 × 0.005


def test_customer_user_sees_own_invoice_but_not_another_customers(client, invoice):
    customer_user_create(customer=invoice.customer, username="alice", password="pw-123456")
    other = CustomerFactory(external_id="other")
    customer_user_create(customer=other, username="mallory", password="pw-123456")

    client.login(username="alice", password="pw-123456")
    assert client.get(f"/invoices/{invoice.pk}/").status_code == 200
    client.login(username="mallory", password="pw-123456")
    assert client.get(f"/invoices/{invoice.pk}/").status_code == 404


def test_anonymous_is_sent_to_login_and_unknown_invoice_is_404(client, staff, invoice):
    from django.test import Client

    anonymous = Client().get(f"/invoices/{invoice.pk}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert staff.get("/invoices/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert staff.get("/invoices/nope/").status_code == 404


def test_plain_user_without_customer_finds_nothing(client, invoice):
    user = get_user_model().objects.create_user("someone", password="pw-123456")
    client.force_login(user)

    assert client.get(f"/invoices/{invoice.pk}/").status_code == 404


def test_draft_page_says_it_may_change(staff):
    worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))

    html = staff.get(f"/invoices/{Invoice.objects.get().pk}/").content.decode()

    assert "Draft invoice" in html and "may still change" in html
