"""A customer's user logs in through the real form and reads the dashboard in Chromium:
the allowance bar at the right width, the chart drawn from the page's JSON, the
breakdowns, and no script refused by the page's policy.

With ``SAVE_SCREENSHOTS=1`` it also saves ``docs/screenshots/dashboard-test.png``
(the README's picture is taken from the demo data: ``docs/portal.md``)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from accounts.services import customer_user_create
from plans.services import contract_create
from tests.factories import CustomerFactory, EventFactory
from tests.invoices.billing_fixtures import add_events, add_seat, team_version
from usage.rollups import rollup_usage

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 20
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
RECORD_REFUSED = ("window.refusedLoads = []; document.addEventListener("
                  "'securitypolicyviolation', e => window.refusedLoads.push(e.violatedDirective));")


@pytest.fixture
def acme_now():
    """acme on a monthly plan since two months ago: 5 seats (5,000 tasks included this
    period), 2,000 tasks in the open period, and two AI calls (a person's, an agent's)."""
    now = timezone.now()
    first = now.date().replace(day=1)
    start = (first - dt.timedelta(days=40)).replace(day=1)
    version = team_version(effective_from=start - dt.timedelta(days=1))
    customer = CustomerFactory(external_id="acme", name="Acme Corp")
    contract_create(customer=customer, plan_version=version, start_date=start,
                    committed_seats=3)
    for i in range(5):
        add_seat(customer, f"user{i}@acme.test", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    period_start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    when = period_start + (now - period_start) / 2
    add_events(customer, count=2000, when=when)
    for seat, initiated_by, tokens in [("user0@acme.test", "user", 1200),
                                       ("triage-bot", "agent", 3000)]:
        EventFactory(customer=customer, event_type="ai.call", timestamp=when, seat=seat,
                     transaction_id=f"call-{seat}", model="gpt-4.1",
                     properties={"total_tokens": tokens, "initiated_by": initiated_by,
                                 "latency_tier": "realtime"})
    rollup_usage(now=now)
    customer_user_create(customer=customer, username="acme-viewer", password="pw-acme-123")
    return customer


@pytest.fixture
def policed_browser(browser):
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                     {"source": RECORD_REFUSED})
    yield browser
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                            {"identifier": script["identifier"]})
    browser.get("about:blank")


def test_customer_reads_bars_chart_and_breakdowns_in_the_browser(
        policed_browser, login, live_server, acme_now):
    browser = login("acme-viewer", "pw-acme-123", path="/accounts/login/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "canvas[data-rendered=true]"))

    assert "Acme Corp" in browser.find_element(By.TAG_NAME, "h1").text
    charge = browser.find_element(By.CSS_SELECTOR, "[data-charge=tasks]")
    assert "2,000 of 5,000 included" in charge.text and "40% used" in charge.text
    bar = charge.find_element(By.CSS_SELECTOR, ".bar")
    fill = charge.find_element(By.CSS_SELECTOR, ".bar .fill")
    assert bar.get_attribute("aria-valuenow") == "40.0"
    assert abs(fill.size["width"] / bar.size["width"] - 0.40) < 0.01

    # The chart draws exactly the series the page was given.
    fed = browser.execute_script(
        "return JSON.parse(document.getElementById('usage-chart-data').textContent).series[0]")
    drawn = browser.execute_script(
        "const chart = Chart.getChart(document.querySelector('canvas[data-series=\"0\"]'));"
        "return {labels: chart.data.labels, sets: chart.data.datasets.map("
        "d => ({label: d.label, data: d.data}))};")
    assert drawn["labels"] == fed["labels"]
    assert drawn["sets"][0]["data"] == fed["daily"]
    assert sum(value or 0 for value in fed["daily"]) == 2000
    assert [s["label"] for s in drawn["sets"]] == [
        "Tasks completed per day", "Running total", "Pace to the period's end", "Allowance"]
    assert drawn["sets"][3]["data"][0] == 5000

    mix = browser.find_element(By.ID, "breakdowns").text
    assert "triage-bot" in mix and "agent" in mix and "user0@acme.test" in mix
    assert "3,000" in mix and "71.4%" in mix
    assert "projected at period end" in browser.find_element(By.ID, "projected-bill").text.lower()
    assert "linear pace" in browser.find_element(By.ID, "projection-method").text
    assert browser.execute_script("return window.refusedLoads") == []

    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "dashboard-test.png"))
