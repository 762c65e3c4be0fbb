"""Headless Debian chromium for page tests. Nothing downloads a browser at run time:
without /usr/bin/chromium and /usr/bin/chromedriver these tests are skipped
(``./run test`` installs both as root)."""

from __future__ import annotations

import os
import tempfile

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Debian chromium/chromium-driver not installed (./run test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-gpu", "--disable-extensions",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def login(browser, live_server):
    """Log a user in through the real login form and return the browser."""

    def _login(username: str, password: str, path: str = "/admin/login/"):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        browser.delete_all_cookies()
        browser.get(live_server.url + path)
        browser.find_element(By.NAME, "username").send_keys(username)
        browser.find_element(By.NAME, "password").send_keys(password)
        form = browser.find_element(By.CSS_SELECTOR, "[type=submit]")
        form.click()
        # The next page has loaded only once the login page's elements are gone: reading
        # before that finds the login page's own h1 (a stale element a moment later).
        WebDriverWait(browser, 30).until(expected_conditions.staleness_of(form))
        WebDriverWait(browser, 30).until(
            lambda b: b.execute_script("return document.readyState") == "complete")
        return browser

    return _login
