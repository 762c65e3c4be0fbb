"""Independent read-only queries at once, each on its own database connection.

A page that needs two heavy reads (the usage API's metric totals and its provider-cost
breakdown, each a pass over the events the rollups do not hold yet) answers in the time
of the slower one instead of their sum: PostgreSQL runs each statement on one core.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def side_by_side(*reads: Callable[[], Any], using: str = DEFAULT_DB_ALIAS) -> list[Any]:
    """Each read's answer, in order. The first runs on this thread's connection, the
    others each on a thread with a connection of its own, closed when it is done.

    Inside a transaction they run one after the other on this connection instead: another
    connection would not see the transaction's uncommitted rows (in tests, every test's
    rows), nor read at its snapshot. SQLite (the embedded default) runs them in turn too.
    """
    connection = connections[using]
    if len(reads) < 2 or connection.in_atomic_block or connection.vendor != "postgresql":
        return [read() for read in reads]
    with ThreadPoolExecutor(max_workers=len(reads) - 1,
                            thread_name_prefix="side-by-side") as pool:
        others = [pool.submit(_on_own_connection, read) for read in reads[1:]]
        first = reads[0]()
        return [first, *(future.result() for future in others)]


def _on_own_connection(read: Callable[[], Any]) -> Any:
    try:
        return read()
    finally:
        # Django's connections are per thread: this closes only the pool thread's, which
        # would otherwise stay open (CONN_MAX_AGE) after the thread is gone.
        connections.close_all()
