"""Alerts in real headless Chromium: a customer admin changes a threshold on /alerts/ and
sees it in force; a crossing recorded by the evaluation is listed on the page."""

from __future__ import annotations

import pytest
import time_machine
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from accounts.models import CustomerUser
from accounts.services import customer_user_create
from invoices.alerts.models import AlertThreshold
from invoices.alerts.services import alerts_evaluate
from tests.invoices.billing_fixtures import add_events, at, worked_example

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = 20


def test_customer_admin_changes_a_threshold(login, live_server):
    contract = worked_example(tasks=0)
    customer = contract.customer
    customer_user_create(customer=customer, username="acme-admin", password="pw-acme-admin-1",
                         role=CustomerUser.Role.ADMIN)
    browser = login("acme-admin", "pw-acme-admin-1", path="/accounts/login/")
    WebDriverWait(browser, WAIT).until(ec.url_to_be(live_server.url + "/"))

    browser.get(live_server.url + "/alerts/")
    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "alert-form")))
    assert "80 %, 100 % of each allowance" in browser.find_element(By.ID, "setting-percents").text
    field = browser.find_element(By.ID, "id_usage_percents")
    field.clear()
    field.send_keys("50, 90")
    browser.find_element(By.ID, "id_spend_amounts").send_keys("1,500")
    browser.find_element(By.CSS_SELECTOR, "#alert-form [type=submit]").click()

    WebDriverWait(browser, WAIT).until(ec.presence_of_element_located((By.ID, "alerts-message")))
    assert browser.find_element(By.ID, "setting-percents").text == "50 %, 90 % of each allowance"
    assert browser.find_element(By.ID, "setting-spend").text == "USD 1,500.00"
    assert sorted(AlertThreshold.objects.values_list("kind", flat=True)) == [
        "spend", "usage_percent", "usage_percent"]

    add_events(customer, count=2500, when=at(2026, 10, 10))  # 58 % of 4,322
    with time_machine.travel(at(2026, 10, 25, 12), tick=False):
        (crossing,) = alerts_evaluate(now=at(2026, 10, 25, 12))
    with time_machine.travel(at(2026, 10, 25, 13)):
        browser.get(live_server.url + "/alerts/")
        WebDriverWait(browser, WAIT).until(
            ec.presence_of_element_located((By.ID, "alerts-list")))
    assert "Tasks completed: 50% of the allowance used (2,500 of 4,322)" in (
        browser.find_element(By.ID, "alerts-list").text)
    assert crossing.key == "usage:tasks:50"
