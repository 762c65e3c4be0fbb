"""Writes for outbound webhooks: endpoints, deliveries, and sending one attempt.

Keyword-only, atomic, ``now`` passed in. Nothing here queues a task: the publishing and
replaying entry points that also queue are in ``accounts.outbound.publish``.

Sending is claim → POST → record, never one long transaction: the claim (row lock,
status and due time re-checked) moves ``next_attempt_at`` a lease ahead, so two tasks
for one delivery (a retried message, the scheduled sweep) send it once, and a worker
that dies mid-send leaves a delivery the sweep retries once the lease is over.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.outbound.events import EVENT_TYPES
from accounts.outbound.models import Delivery, DeliveryAttempt, Endpoint
from accounts.outbound.signing import SIGNATURE_HEADER, signature_header

# After the n-th failed attempt the next one waits BACKOFF[n - 1]: 1 min, 5 min, 30 min,
# 2 h, 6 h, 24 h; the delivery fails for good after MAX_ATTEMPTS (about a day and a half).
BACKOFF = (
    dt.timedelta(minutes=1), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
    dt.timedelta(hours=2), dt.timedelta(hours=6), dt.timedelta(hours=24),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
TIMEOUT_SECONDS = 10
# A claimed delivery is not due again before this: longer than any one POST can take.
LEASE = dt.timedelta(seconds=TIMEOUT_SECONDS + 50)
EXCERPT_CHARS = 500
USER_AGENT = "billing-webhooks/1"

Status = Delivery.Status


def body_of(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a stored payload."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _validate(*, url: str, event_types: Sequence[str]) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": ["Use an http:// or https:// URL."]})
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError({"event_types": [f"Unknown event types: {', '.join(unknown)}."]})
    return [t for t in EVENT_TYPES if t in set(event_types)]


# --- Endpoints -------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(*, name: str, url: str, event_types: Sequence[str] = (),
                    active: bool = True) -> Endpoint:
    """A new endpoint with a freshly generated signing secret."""
    types = _validate(url=url, event_types=event_types)
    return Endpoint.objects.create(name=name, url=url, event_types=types, active=active,
                                   secret=_new_secret())


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, **changes: Any) -> Endpoint:
    allowed = {"name", "url", "event_types", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.event_types = _validate(url=endpoint.url, event_types=endpoint.event_types)
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: Endpoint) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.secret = _new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    return endpoint


# --- Deliveries ------------------------------------------------------------------------------


def envelope(*, event_type: str, event_id: str, payload: Mapping[str, Any],
             now: dt.datetime) -> dict[str, Any]:
    return {
        "id": event_id, "type": event_type,
        "created": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": dict(payload),
    }


@transaction.atomic
def deliveries_create(*, event_type: str, event_id: str, payload: Mapping[str, Any],
                      now: dt.datetime) -> list[int]:
    """One pending delivery per active endpoint subscribed to ``event_type``; the ids of
    the event's pending deliveries. An event published before gets no second delivery:
    ``(endpoint, event_id)`` is unique and the insert skips conflicts (ON CONFLICT DO
    NOTHING, which on PostgreSQL waits for a concurrent insert of the same row)."""
    if event_type not in EVENT_TYPES:
        raise ValidationError({"event_type": [f"Unknown event type {event_type!r}."]})
    endpoints = [e for e in Endpoint.objects.filter(active=True) if e.subscribes_to(event_type)]
    if not endpoints:
        return []
    body = envelope(event_type=event_type, event_id=event_id, payload=payload, now=now)
    Delivery.objects.bulk_create([
        Delivery(endpoint=e, event_type=event_type, event_id=event_id, payload=body,
                 next_attempt_at=now, created_at=now)
        for e in endpoints
    ], ignore_conflicts=True)
    return list(
        Delivery.objects.filter(event_id=event_id, endpoint__in=endpoints, status=Status.PENDING,
                                attempts=0)
        .order_by("pk").values_list("pk", flat=True)
    )


def deliveries_due(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (the scheduled sweep sends them)."""
    return list(
        Delivery.objects.filter(status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def delivery_replay(*, delivery: Delivery, now: dt.datetime) -> Delivery:
    """Give a failed delivery a fresh round of attempts, starting now (same body, same
    event id: the receiver can tell it has seen it). Its attempt log is kept."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.status != Status.FAILED:
        raise ValidationError({"status": [
            f"Delivery {delivery.pk} is {delivery.status}; only failed deliveries are replayed."]})
    delivery.status = Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    return delivery


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    sent: bool  # False: not claimed (not due, already done, or claimed by another task)
    succeeded: bool = False
    retry_in: dt.timedelta | None = None  # when the next attempt is due, if any


def _claim(delivery_id: int, now: dt.datetime) -> Delivery | None:
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update().select_related("endpoint")
            .filter(pk=delivery_id, status=Status.PENDING)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at",
                                     "updated_at"])
        return delivery


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer we do not follow (a POST must not turn into a GET elsewhere).
    def redirect_request(self, *args, **kwargs):
        return None


# No proxy from the environment: the endpoint is called directly, as registered.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


@dataclass(frozen=True)
class _Response:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int


def _post(delivery: Delivery, now: dt.datetime) -> _Response:
    body = body_of(delivery.payload)
    timestamp = int(now.timestamp())
    request = urllib.request.Request(delivery.endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Billing-Event": delivery.event_type,
        "X-Billing-Event-Id": delivery.event_id,
        "X-Billing-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature_header(secret=delivery.endpoint.secret, timestamp=timestamp,
                                           body=body),
    })
    started = time.monotonic()  # a duration, not a business time: the clock stays outside
    status, text, error = None, "", ""
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
            text = response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")
    except urllib.error.HTTPError as failure:
        status = failure.code
        text = failure.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")
        error = f"HTTP {failure.code}"
    except (urllib.error.URLError, OSError, ValueError) as failure:
        reason = getattr(failure, "reason", failure)
        error = f"{type(failure).__name__}: {reason}"
    return _Response(status, text[:EXCERPT_CHARS], error,
                     int((time.monotonic() - started) * 1000))


def delivery_send(*, delivery_id: int, now: dt.datetime) -> Outcome:
    """One attempt of a due delivery: claim, POST, record the attempt and what is next."""
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return Outcome(delivery_id, sent=False)
    if not delivery.endpoint.active:
        response = _Response(None, "", "The endpoint is inactive; not sent.", 0)
    else:
        response = _post(delivery, now)
    ok = response.status_code is not None and 200 <= response.status_code < 300
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=now, status_code=response.status_code,
            response_excerpt=response.excerpt, error=response.error,
            duration_ms=response.duration_ms, succeeded=ok,
        )
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        retry_in = None
        if ok:
            delivery.status, delivery.next_attempt_at, delivery.last_error = Status.SUCCEEDED, None, ""
        elif delivery.attempts >= MAX_ATTEMPTS or not delivery.endpoint.active:
            delivery.status, delivery.next_attempt_at = Status.FAILED, None
            delivery.last_error = response.error
        else:
            retry_in = BACKOFF[delivery.attempts - 1]
            delivery.next_attempt_at = now + retry_in
            delivery.last_error = response.error
        delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
    return Outcome(delivery_id, sent=True, succeeded=ok, retry_in=retry_in)
