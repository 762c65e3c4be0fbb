"""Ops staff open the margin report in a real browser: the money-losing account is on top
and highlighted, and the chart is drawn by the vendored Chart.js.

With ``OPS_SCREENSHOTS=1`` the test also saves docs/screenshots/margin-report.png."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.invoices.ops.conftest import build_book

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "margin-report.png"
NAMES = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]


@pytest.fixture
def ops_user():
    return get_user_model().objects.create_superuser("ops-margins", "ops@example.test",
                                                     "pw-ops-456")


def test_ops_sees_the_money_losing_account_on_top_with_a_chart(login, live_server, ops_user):
    build_book(NAMES, tasks=2500, losing=("umbrella", "hooli"))

    browser = login("ops-margins", "pw-ops-456")
    browser.get(live_server.url + "/admin/ops/margins/?month=2026-10")
    wait = WebDriverWait(browser, 20)
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, "#margin-chart[data-rendered='true']")))

    rows = browser.find_elements(By.CSS_SELECTOR, "#margin-table tbody tr")
    top = [row.get_attribute("data-customer") for row in rows[:2]]
    assert sorted(top) == ["hooli", "umbrella"]
    assert all("ops-losing" in row.get_attribute("class") for row in rows[:2])
    assert not any("ops-losing" in row.get_attribute("class") for row in rows[2:])
    highlighted = rows[0].find_element(By.TAG_NAME, "td").value_of_css_property(
        "background-color")
    plain = rows[-1].find_element(By.TAG_NAME, "td").value_of_css_property("background-color")
    assert highlighted != plain
    assert browser.find_element(By.ID, "losing-count").text == "2"
    # Chart.js drew on the canvas: it has a size and non-blank pixels.
    drawn = browser.execute_script(
        "const c = document.getElementById('margin-chart');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n;")
    assert drawn > 100

    if os.environ.get("OPS_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.set_window_size(1366, 1400)
        browser.get(live_server.url + "/admin/ops/margins/?month=2026-10")
        wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, "#margin-chart[data-rendered='true']")))
        browser.save_screenshot(str(SCREENSHOT))
        browser.set_window_size(1280, 1600)
