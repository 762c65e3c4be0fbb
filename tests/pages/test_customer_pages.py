"""A customer's user logs in through the real form, finds the invoice and reads its arithmetic."""

import pytest
from selenium.webdriver.common.by import By

from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.services.billing_run import billing_run
from invoices.services.lifecycle import invoice_finalize
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db(transaction=True)


def test_customer_reads_the_worked_example_invoice_in_the_browser(login, live_server):
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice_finalize(invoice=Invoice.objects.get(), now=at(2026, 11, 2))
    customer_user_create(customer=contract.customer, username="acme-viewer", password="pw-acme-123")

    browser = login("acme-viewer", "pw-acme-123", path="/accounts/login/")
    assert contract.customer.name in browser.find_element(By.TAG_NAME, "h1").text
    browser.find_element(By.LINK_TEXT, "USD-000001").click()

    page = browser.find_element(By.TAG_NAME, "main").text
    assert "216.80" in page
    assert "4.322581" in page and "172.90" in page
    assert "878" in page and "43.90" in page
