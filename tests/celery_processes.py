"""Real Celery worker and beat processes for the end-to-end tests, against the test's own
PostgreSQL database over Redis."""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection


def redis_or_skip(url: str):
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {url}: {exc}")
    return client


@dataclass(frozen=True)
class Broker:
    """A Redis broker for one test: its keys carry a prefix of their own (kombu's
    ``global_keyprefix``, the app's ``CELERY_BROKER_KEY_PREFIX``), so two runs sharing a
    Redis never read each other's queues, and cleaning up deletes only this test's keys
    (never a ``FLUSHDB`` of somebody's database)."""

    url: str
    prefix: str
    client: object

    @property
    def env(self) -> dict[str, str]:
        return {"CELERY_BROKER_URL": self.url, "CELERY_BROKER_KEY_PREFIX": self.prefix}

    def keys(self) -> list[bytes]:
        return list(self.client.scan_iter(match=f"{self.prefix}*", count=500))

    def forget(self) -> None:
        keys = self.keys()
        if keys:
            self.client.delete(*keys)


def redis_broker_or_skip(url: str) -> Broker:
    return Broker(url=url, prefix=f"e2e-{uuid.uuid4().hex[:12]}:", client=redis_or_skip(url))


def test_database_url() -> str:
    """A DATABASE_URL for the database this test is using (the test database)."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"


test_database_url.__test__ = False  # a helper, not a test


def start_celery(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "billing_site", *args],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
