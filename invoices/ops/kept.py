"""Ops reads kept in the cache, served stale while the worker refreshes them.

Rating the whole book for the open period's estimate takes seconds at 10,000 customers
(the engine's time per customer, not the queries: ``bench/margin_report.py``), too long
for a page. So a computed report is kept with the *version* of what it read (a digest of
the rollup watermark and the contracts', seats' and invoices' counts and last changes):

- same version and younger than ``FRESH``: served as is;
- otherwise, when one is kept at all (younger than ``KEEP_SECONDS``): served as it is
  (the page says when it was computed) and the worker is asked to compute it again
  (``invoices.ops.tasks.refresh_margin_book``, once at a time);
- nothing kept (the first view of a month and day): computed in the request.

So that no one waits for that computation, beat keeps the reports staff open most (this
month and last) warm: ``warm`` every ``WARM_SECONDS`` computes one again when what it
read has changed or it is about to go stale (``invoices.ops.tasks.keep_margin_books``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

FRESH = dt.timedelta(minutes=5)
KEEP_SECONDS = 3600
REFRESH_LOCK_SECONDS = 600
WARM_SECONDS = 240  # beat's interval for ``warm``: under FRESH, so a kept copy stays fresh


@dataclass(frozen=True)
class Kept:
    version: str
    computed_at: dt.datetime
    value: Any


def kept(key: str, *, version: str, compute: Callable[[], Any],
         refresh: Callable[[], None], force: bool = False) -> Kept:
    """The kept value of ``key``, or a new one computed now (``force``: always)."""
    now = timezone.now()
    entry = None if force else cache.get(key)
    if entry is not None:
        if entry.version == version and now - entry.computed_at < FRESH:
            return entry
        if cache.add(f"{key}:refreshing", 1, REFRESH_LOCK_SECONDS):
            transaction.on_commit(lambda: _queue(refresh, key))
        return entry
    entry = Kept(version, now, compute())
    cache.set(key, entry, KEEP_SECONDS)
    cache.delete(f"{key}:refreshing")
    return entry


def _queue(refresh: Callable[[], None], key: str) -> None:
    try:
        refresh()
    except Exception:  # a broker outage leaves the stale value; the next view tries again
        cache.delete(f"{key}:refreshing")
        logger.exception("could not queue a refresh of %s", key)


def warm(key: str, *, version: str, compute: Callable[[], Any], now: dt.datetime) -> bool:
    """Computes ``key`` again unless its kept copy read the same ``version`` and stays
    fresh until the next warm-up; True when it computed."""
    entry = cache.get(key)
    if (entry is not None and entry.version == version
            and now - entry.computed_at < FRESH - dt.timedelta(seconds=WARM_SECONDS)):
        return False
    cache.set(key, Kept(version, now, compute()), KEEP_SECONDS)
    cache.delete(f"{key}:refreshing")
    return True
