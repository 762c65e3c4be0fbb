"""The portal in real headless Chromium: a customer admin logs in, opens the invoice list and
an invoice, downloads the CSV of the events behind a usage line with the browser's
session, and invites a colleague."""

from __future__ import annotations

import csv
import io
import urllib.request

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import CustomerUser
from accounts.services import customer_user_create
from invoices.models import Invoice
from invoices.services.billing_run import billing_run
from invoices.services.lifecycle import invoice_finalize
from tests.invoices.billing_fixtures import at, worked_example

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 20


def _fetch_with_session(browser, url: str) -> tuple[int, str, str]:
    """GET ``url`` with the browser's session cookie, as the download link would."""
    cookie = browser.get_cookie("sessionid")
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie['value']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_customer_admin_reads_invoices_exports_events_and_invites(login, live_server):
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice = invoice_finalize(invoice=Invoice.objects.get(), now=at(2026, 11, 2))
    customer_user_create(customer=contract.customer, username="acme-admin",
                         password="pw-acme-admin-1", role=CustomerUser.Role.ADMIN)
    wait = lambda: WebDriverWait(browser, WAIT)  # noqa: E731

    browser = login("acme-admin", "pw-acme-admin-1", path="/accounts/login/")
    wait().until(ec.url_to_be(live_server.url + "/"))

    browser.get(live_server.url + "/invoices/")
    wait().until(ec.presence_of_element_located((By.ID, "invoices")))
    assert "1 Oct – 31 Oct 2026" in browser.find_element(By.ID, "invoices").text
    browser.find_element(By.LINK_TEXT, "USD-000001").click()

    wait().until(ec.presence_of_element_located((By.ID, "total")))
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "4.322581 seats × $40.00 = $172.90" in page
    assert "878 tasks completed over the 4,322 included (5,200 used) × $0.05 = $43.90" in page
    assert browser.find_element(By.ID, "total").text == "$216.80"

    link = browser.find_element(By.PARTIAL_LINK_TEXT, "Export the events behind this line")
    status, content_type, body = _fetch_with_session(browser, link.get_attribute("href"))
    rows = list(csv.DictReader(io.StringIO(body)))
    usage = invoice.lines.get(kind="usage")
    assert status == 200 and content_type.startswith("text/csv")
    assert len(rows) == usage.value == 5200
    assert {row["event_type"] for row in rows} == {"task.completed"}

    browser.get(live_server.url + "/exports/")
    wait().until(ec.presence_of_element_located((By.ID, "usage-export")))
    browser.execute_script(
        "document.getElementById('id_from').value = '2026-10-15';"
        "document.getElementById('id_to').value = '2026-10-15';")
    form = browser.find_element(By.ID, "usage-export")
    query = browser.execute_script(
        "return new URLSearchParams(new FormData(arguments[0])).toString();", form)
    _, _, body = _fetch_with_session(browser, f"{form.get_attribute('action')}?{query}")
    assert list(csv.reader(io.StringIO(body)))[1:] == [
        ["2026-10-15", "tasks", "Tasks completed", "5200"]]

    browser.get(live_server.url + "/team/")
    wait().until(ec.presence_of_element_located((By.ID, "invite")))
    browser.find_element(By.ID, "id_email").send_keys("colleague@acme.test")
    browser.find_element(By.ID, "id_name").send_keys("Cole League")
    browser.find_element(By.CSS_SELECTOR, "#invite [type=submit]").click()
    message = wait().until(ec.presence_of_element_located((By.ID, "team-message")))
    assert "Invited colleague@acme.test as a viewer" in message.text
    assert "colleague@acme.test" in browser.find_element(By.ID, "members").text
    membership = CustomerUser.objects.get(user__username="colleague@acme.test")
    assert membership.role == CustomerUser.Role.VIEWER
    assert [m.to for m in mail.outbox] == [["colleague@acme.test"]]
