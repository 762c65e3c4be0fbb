"""Two customers for the portal tests: acme (the SPEC worked example, its October invoice
finalized, an admin and a viewer) and globex (another customer with its own admin)."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import CustomerUser
from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.services import billing_run, invoice_finalize
from tests.factories import CustomerFactory
from tests.invoices.billing_fixtures import at, worked_example

PASSWORD = "pw-portal-12345"


@pytest.fixture
def acme_invoice(db) -> Invoice:
    """acme's October invoice, finalized: seats 4.322581 × 40.00, 878 tasks × 0.05."""
    worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    return invoice_finalize(invoice=Invoice.objects.get(), now=at(2026, 11, 2))


def _member(customer, username: str, role: str) -> CustomerUser:
    return customer_user_create(customer=customer, username=username, password=PASSWORD,
                                email=f"{username}@example.test", role=role)


def _client_of(membership: CustomerUser, **options) -> Client:
    client = Client(**options)
    client.force_login(membership.user)
    return client


@pytest.fixture
def acme_admin(acme_invoice) -> Client:
    return _client_of(_member(acme_invoice.customer, "acme-admin", CustomerUser.Role.ADMIN))


@pytest.fixture
def acme_viewer(acme_invoice) -> Client:
    return _client_of(_member(acme_invoice.customer, "acme-viewer", CustomerUser.Role.VIEWER))


@pytest.fixture
def globex(db):
    return CustomerFactory(external_id="globex", name="Globex")


@pytest.fixture
def globex_admin(globex) -> Client:
    return _client_of(_member(globex, "globex-admin", CustomerUser.Role.ADMIN))
