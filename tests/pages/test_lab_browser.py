"""The pricing lab in a real browser: the archetypes page draws its distribution chart
(the vendored Chart.js, from json_script data) and says seat-only is unsafe."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from plans.periods import add_months
from tests.invoices.lab.pricing_book import build_book

pytestmark = pytest.mark.django_db(transaction=True)


def test_ops_sees_the_archetypes_and_the_distribution_chart(login, live_server):
    get_user_model().objects.create_superuser("lab-browser", "lab@example.test", "pw-lab-123")
    # The book in the last month that has ended by the real clock (the server's).
    this_month = dt.date.today().replace(day=1)
    build_book(start=add_months(this_month, -1))
    browser = login("lab-browser", "pw-lab-123")
    browser.get(f"{live_server.url}/admin/lab/archetypes/?plan=team&periods=1")
    WebDriverWait(browser, 60).until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#distribution-chart[data-rendered='true']")))
    # The exact figures are checked without a browser (tests/invoices/lab); late in a
    # month the book's newcomer has an ended period too, which moves them.
    assert browser.find_element(By.ID, "seat-price").text.endswith(" USD")
    assert browser.find_element(By.ID, "seat-only-verdict").text == "Unsafe"
    assert "tail (P95)" in browser.find_element(By.ID, "archetypes").text
