"""Fixtures shared by the whole suite."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create


def pytest_collection_modifyitems(config, items):
    if settings.IS_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    # A green run on SQLite must not read as "everything passed": say what was left out.
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "postgres" in r.keywords]
    if skipped:
        count = len(skipped)
        terminalreporter.write_line(
            f"{count} PostgreSQL-only test{'s' if count != 1 else ''} skipped on SQLite: "
            "set DATABASE_URL, or install the PostgreSQL server binaries so ./run test "
            "starts a throwaway cluster",
            yellow=True,
        )


@pytest.fixture(autouse=True)
def _empty_cache():
    # API throttle counts are keyed by ApiKey id, which SQLite reuses after a test's
    # rollback: without this one test's requests would count against the next one's key.
    cache.clear()


@pytest.fixture
def now() -> dt.datetime:
    return dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin_key(db) -> str:
    return api_key_create(name="test admin", scope=ApiKey.Scope.ADMIN)[1]


@pytest.fixture
def ingest_key(db) -> str:
    return api_key_create(name="test ingest", scope=ApiKey.Scope.INGEST)[1]


@pytest.fixture
def api(admin_key) -> APIClient:
    """An API client authenticated with an admin-scope key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
    return client


@pytest.fixture
def ingest_api(ingest_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest_key}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
