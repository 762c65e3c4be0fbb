"""The signature scheme (docs/webhooks.md), pure: Stripe's, with our header name.

``X-Billing-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, keyed
with the endpoint's secret. The timestamp is signed too, so a receiver that refuses old
timestamps refuses a replayed capture.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Billing-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret=secret, timestamp=timestamp, body=body)}"


def verify(*, secret: str, header: str, body: bytes, now: int,
           tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` of ``now``."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, parts.get("v1", ""))
