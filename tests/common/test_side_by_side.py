"""side_by_side runs reads on their own connections only where that sees the same rows."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from common.side_by_side import side_by_side


def _backend() -> tuple[str, int | None]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
            return threading.current_thread().name, cursor.fetchone()[0]
        cursor.execute("SELECT 1")
        return threading.current_thread().name, None


def _open_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_on_postgresql_each_read_has_its_own_connection_closed_after():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite reads run in turn")
    before = _open_connections()
    (first_thread, first_pid), (second_thread, second_pid), third = side_by_side(
        _backend, _backend, lambda: "third")
    assert third == "third"
    assert first_thread == threading.current_thread().name
    assert second_thread.startswith("side-by-side")
    assert first_pid != second_pid
    assert _open_connections() == before  # the pool thread's connection is closed


@pytest.mark.django_db
def test_inside_a_transaction_reads_run_in_turn_on_this_connection():
    with transaction.atomic():
        answers = side_by_side(_backend, _backend)
    assert {thread for thread, _ in answers} == {threading.current_thread().name}
    assert answers[0][1] == answers[1][1]


@pytest.mark.django_db(transaction=True)
def test_a_failing_read_raises_its_error():
    def fails():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        side_by_side(_backend, fails)
