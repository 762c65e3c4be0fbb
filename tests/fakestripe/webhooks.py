"""Helpers to build and sign Stripe webhook events for tests.

Stripe signs ``f"{timestamp}.{raw_body}"`` with HMAC-SHA256 keyed by the endpoint secret and
sends ``Stripe-Signature: t=<timestamp>,v1=<hex digest>``; ``stripe.Webhook.construct_event``
verifies exactly that (and rejects timestamps older than its tolerance, 300 s by default).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from .encoding import new_id
from .server import API_VERSION


def sign_webhook_payload(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """Return the ``Stripe-Signature`` header value for ``payload`` signed with ``secret``."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(
        secret.encode("utf-8"), f"{ts}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={ts},v1={digest}"


def make_event(
    type: str,
    obj: dict[str, Any],
    id: str | None = None,
    *,
    previous_attributes: dict[str, Any] | None = None,
    created: int | None = None,
    api_version: str = API_VERSION,
) -> dict[str, Any]:
    """Build a v1 Event object (``{"object": "event", "type": ..., "data": {"object": ...}}``)."""
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": id or new_id("evt_", 24),
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }
