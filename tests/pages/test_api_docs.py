"""The API docs work offline: Swagger UI and ReDoc come from the app's own static files.

A new user on a machine with no internet access opens /api/docs/ and sees every
operation; nothing on either page names, or loads, a URL outside the app.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.generators import SchemaGenerator
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DOCS_PAGES = ["/api/docs/", "/api/redoc/"]
ANY_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""", re.IGNORECASE)
ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
WAIT_SECONDS = 20


def operation_count() -> int:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sum(len(operations) for operations in schema["paths"].values())


RECORD_REFUSED = ("window.refusedLoads = []; document.addEventListener("
                  "'securitypolicyviolation', e => window.refusedLoads.push(e.blockedURI));")


@pytest.fixture
def docs_browser(browser):
    """The browser, recording every load the page's Content-Security-Policy refused."""
    script = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                     {"source": RECORD_REFUSED})
    yield browser
    browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument",
                            {"identifier": script["identifier"]})
    browser.get("about:blank")  # no request of this page outlives the test's live server


def assert_nothing_left_the_app(browser, live_server):
    # Every resource the page asked for (scripts, styles, fonts, images, the schema) is
    # on this app, or was refused by the page's policy before any request went out.
    asked = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    refused = set(browser.execute_script("return window.refusedLoads"))
    outside = [url for url in asked if not url.startswith(live_server.url)]
    assert set(outside) <= refused, outside


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_docs_html_names_no_url_outside_the_app(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert ANY_URL.findall(html) == []
    assert "default-src 'self'" in html  # the Content-Security-Policy of api_docs/csp.html
    assets = ASSET.findall(html)
    assert assets, "the page loads its UI from somewhere"
    for asset in [a for a in assets if not a.startswith("data:")]:  # inline, fetches nothing
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file"


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_every_operation_offline(docs_browser, live_server):
    browser = docs_browser
    browser.get(live_server.url + "/api/docs/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock"))
    blocks = browser.find_elements(By.CSS_SELECTOR, ".opblock")
    assert len(blocks) == operation_count()
    summaries = " ".join(b.text for b in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary"))
    assert "/api/v1/events" in summaries and "Send usage events" in summaries
    assert_nothing_left_the_app(browser, live_server)


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_shows_the_event_example_when_an_operation_is_opened(docs_browser,
                                                                       live_server):
    browser = docs_browser
    browser.get(live_server.url + "/api/docs/#/events/events_ingest")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda b: "gpt-4.1-mini" in b.find_element(By.ID, "swagger-ui").text)
    text = browser.find_element(By.ID, "swagger-ui").text
    assert "transaction_id" in text and "alice@acme.test" in text


@pytest.mark.django_db(transaction=True)
def test_redoc_renders_the_operations_offline(docs_browser, live_server):
    browser = docs_browser
    browser.get(live_server.url + "/api/redoc/")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "[data-section-id*='events_ingest']"))
    assert "Send usage events" in browser.find_element(By.TAG_NAME, "body").text
    assert_nothing_left_the_app(browser, live_server)
