"""Ops staff use the admin in a real browser: log in, find renewing contracts, publish."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By

from plans.periods import add_months
from tests.factories import ContractFactory, CustomerFactory, make_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ops_user():
    return get_user_model().objects.create_superuser("ops-browser", "ops@example.test", "pw-ops-123")


def test_ops_finds_contracts_renewing_soon_in_the_admin(login, live_server, ops_user):
    today = dt.date.today()
    start = add_months(today + dt.timedelta(days=10), -12)
    ContractFactory(
        customer=CustomerFactory(external_id="renews-soon", name="Renews Soon Ltd"),
        start_date=start, end_date=add_months(start, 12) - dt.timedelta(days=1),
    )
    ContractFactory(customer=CustomerFactory(external_id="evergreen", name="Evergreen Inc"))

    browser = login("ops-browser", "pw-ops-123")
    browser.get(live_server.url + "/admin/plans/contract/")
    assert "renews-soon" in browser.find_element(By.ID, "result_list").text
    browser.find_element(By.PARTIAL_LINK_TEXT, "next 30 days").click()
    text = browser.find_element(By.ID, "result_list").text
    assert "renews-soon" in text
    assert "evergreen" not in text


def test_published_version_is_read_only_in_the_browser(login, live_server, ops_user):
    version = make_version()
    browser = login("ops-browser", "pw-ops-123")
    browser.get(f"{live_server.url}/admin/plans/planversion/{version.pk}/change/")
    # No editable price input and no save button on a published version.
    assert not browser.find_elements(By.NAME, "seat_price")
    assert not browser.find_elements(By.NAME, "_save")
