"""A local Stripe-compatible HTTP server (and webhook helpers) for tests."""

from .server import DEFAULT_API_KEY, FakeStripe, RecordedRequest
from .webhooks import make_event, sign_webhook_payload

__all__ = [
    "DEFAULT_API_KEY",
    "FakeStripe",
    "RecordedRequest",
    "make_event",
    "sign_webhook_payload",
]
