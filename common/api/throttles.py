"""Request budgets per API key: a 429 with Retry-After once a key goes over its rate.

Two budgets per key: a route whose permission names a ``throttle_bucket`` draws on
``API_THROTTLE_RATE_<BUCKET>`` (``HasIngestScope``, i.e. ``POST /events``: ``ingest``),
every other route on ``API_THROTTLE_RATE_ADMIN``, so an admin key that also sends events
does not spend its admin budget on them. The key is ``request.auth`` (any saved object,
counted by its primary key); requests without one never get here with DRF's order
(authenticate, permissions, then throttles): they are a 401 first.

The count is a sliding window estimated from two fixed-window counters, this window's
and the previous one's weighted by how much of it still overlaps the last ``window``
seconds. That is two cache operations per request whatever the rate, where DRF's
SimpleRateThrottle rewrites a list of every request time (thousands at the ingest rate).
Refused requests count too: a client that keeps hammering stays refused, one that waits
for Retry-After gets in. Counts live in the default cache (settings.CACHES; Redis shares
them across gunicorn workers, local memory counts per worker).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

from common.rates import parse_rate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    requests: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str) -> Rate:
        requests, window = parse_rate(text)
        return cls(requests, window)

    def __str__(self) -> str:
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[self.window]
        return f"{self.requests:,} requests per {unit}"


def estimated_count(*, previous: int, current: int, elapsed: float, rate: Rate) -> float:
    """Requests in the last ``rate.window`` seconds, ``elapsed`` seconds into this window."""
    return previous * (1 - elapsed / rate.window) + current


def retry_after(*, previous: int, current: int, elapsed: float, rate: Rate) -> float:
    """Seconds until one more request fits, when ``current`` already counts the refused one."""
    room = rate.requests - 1  # the retried request counts itself
    if current <= room:
        # This window has room once the previous window's share has decayed enough; a
        # refusal with current <= room implies previous > 0.
        return max(rate.window * (1 - (room - current) / previous) - elapsed, 0.0)
    # Only in the next window, where this one becomes the decaying previous one.
    return rate.window - elapsed + rate.window * (1 - room / current)


DEFAULT_BUCKET = "admin"


def bucket_of(view) -> str:
    """The budget a view's requests draw on: the first ``throttle_bucket`` its permission
    classes name, else the admin budget."""
    for permission in getattr(view, "permission_classes", ()):
        if bucket := getattr(permission, "throttle_bucket", None):
            return bucket
    return DEFAULT_BUCKET


class ApiKeyRateThrottle(BaseThrottle):
    cache_prefix = "api-throttle"

    def __init__(self):
        self.timer = time.time

    def allow_request(self, request, view) -> bool:
        key = getattr(request.auth, "pk", None)
        if key is None:
            return True
        bucket = bucket_of(view)
        rate = Rate.parse(getattr(settings, f"API_THROTTLE_RATE_{bucket.upper()}"))
        now = self.timer()
        window = int(now // rate.window)
        elapsed = now - window * rate.window
        try:
            previous, current = self._count(f"{self.cache_prefix}:{bucket}:{key}", window, rate)
        except (OSError, RedisError):
            # A cache outage must not take the API down with it: the limit is a guard
            # against runaway clients, not a correctness rule. Logged so it is seen.
            logger.warning("API throttle cache unavailable; request let through", exc_info=True)
            return True
        if estimated_count(previous=previous, current=current, elapsed=elapsed, rate=rate) <= rate.requests:
            return True
        wait = retry_after(previous=previous, current=current, elapsed=elapsed, rate=rate)
        # DRF adds "Expected available in N seconds." and the Retry-After header.
        raise exceptions.Throttled(
            wait=max(wait, 1.0),
            detail=(f"Rate limit exceeded: this API key may make {rate} on {bucket} routes "
                    f"(API_THROTTLE_RATE_{bucket.upper()})."),
        )

    def _count(self, prefix: str, window: int, rate: Rate) -> tuple[int, int]:
        """Count this request in its window; return (previous window's, this window's) counts."""
        current_key = f"{prefix}:{window}"
        # Kept two windows: long enough to serve as "previous" for the next one.
        cache.add(current_key, 0, timeout=2 * rate.window + 1)
        try:
            current = cache.incr(current_key)
        except ValueError:  # expired between add and incr
            cache.set(current_key, 1, timeout=2 * rate.window + 1)
            current = 1
        previous = cache.get(f"{prefix}:{window - 1}", 0)
        return previous, current
