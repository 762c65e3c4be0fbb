"""Copies of an event arriving at the same moment count once (PostgreSQL, real threads)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import CustomerFactory
from usage.ingest import ingest_events
from usage.models import Event

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def event(tid: str) -> dict:
    return {"transaction_id": tid, "customer": "acme", "event_type": "task.completed",
            "timestamp": "2026-11-15T11:00:00Z", "properties": {}}


def run_concurrently(*calls):
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def worker(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_two_requests_with_the_same_event_at_once_count_it_once(ingest_key):
    CustomerFactory(external_id="acme")

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {ingest_key}")
        with time_machine.travel(NOW, tick=False):
            return client.post("/api/v1/events", event("same"), format="json").json()

    for _ in range(5):  # several rounds: the race is not the same every time
        Event.objects.all().delete()
        answers = run_concurrently(post, post)
        assert sum(a["accepted"] for a in answers) == 1
        assert sum(a["duplicates"] for a in answers) == 1
        assert Event.objects.filter(transaction_id="same").count() == 1


def test_overlapping_batches_in_opposite_orders_neither_deadlock_nor_double_count():
    CustomerFactory(external_id="acme")
    shared = [event(f"k{n:04d}") for n in range(300)]
    first = shared + [event(f"a{n}") for n in range(50)]
    second = list(reversed(shared)) + [event(f"b{n}") for n in range(50)]

    def ingest(events):
        return lambda: ingest_events(events=events, now=NOW)

    for _ in range(3):
        Event.objects.all().delete()
        one, two = run_concurrently(ingest(first), ingest(second))
        assert one.accepted + two.accepted == 400
        assert one.duplicates + two.duplicates == 300
        assert Event.objects.count() == 400
