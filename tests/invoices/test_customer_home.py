"""The page a login lands on: ops go to the admin, a customer's user sees their account."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.services.billing_run import billing_run
from invoices.services.lifecycle import invoice_finalize
from plans.services import contract_schedule_migration
from tests.factories import make_version
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed():
    """The worked example billed for October; returns (contract, draft invoice)."""
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return contract, Invoice.objects.get()


def _customer_client(client, customer):
    membership = customer_user_create(customer=customer, username="cu", password="pw-cu-12345")
    client.force_login(membership.user)
    return client


def test_staff_land_in_the_admin(client):
    client.force_login(get_user_model().objects.create_user("ops", password="x", is_staff=True))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/login/").status_code == 200


def test_customer_sees_finalized_invoices_but_not_drafts(client, billed):
    contract, draft = billed
    client = _customer_client(client, contract.customer)
    with time_machine.travel(dt.datetime(2026, 11, 10, tzinfo=dt.UTC), tick=False):
        page = client.get("/").content.decode()
        assert "No invoices yet." in page
        assert client.get(f"/invoices/{draft.pk}/").status_code == 404
        invoice_finalize(invoice=draft, now=at(2026, 11, 2))
        page = client.get("/").content.decode()
    assert "USD-000001" in page and "216.80 USD" in page
    assert client.get(f"/invoices/{draft.pk}/").status_code == 200


def test_customer_sees_the_current_period_estimate_and_a_pending_plan_change(client, billed):
    contract, _ = billed
    new_version = make_version(plan=contract.plan_version.plan, seat_price="45.00",
                               effective_from=dt.date(2026, 11, 1))
    contract_schedule_migration(contract=contract, plan_version=new_version,
                                effective_date=dt.date(2027, 1, 1), today=dt.date(2026, 11, 10))
    client = _customer_client(client, contract.customer)
    with time_machine.travel(dt.datetime(2026, 11, 10, tzinfo=dt.UTC), tick=False):
        page = client.get("/").content.decode()
    assert "2026-11-01 to 2026-12-01" in page
    assert "Estimated total" in page
    assert "From 2027-01-01 your plan changes to" in page


def test_a_login_without_a_customer_is_forbidden(client):
    client.force_login(get_user_model().objects.create_user("nobody", password="x"))
    assert client.get("/").status_code == 403
