"""The verify snippet of docs/webhooks.md, run as written against a real delivery."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine

from accounts.outbound.publish import outbound_publish
from accounts.outbound.services import endpoint_create

DOC = Path(__file__).resolve().parents[3] / "docs" / "webhooks.md"
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


def snippet() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"<!-- verify-snippet:.*?-->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/webhooks.md lost its verify snippet"
    return match.group(1)


@pytest.mark.django_db
def test_the_documented_verify_snippet_verifies_a_real_delivery(
        receiver, django_capture_on_commit_callbacks):
    endpoint = endpoint_create(name="crm", url=receiver.url)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        outbound_publish(event_type="invoice.paid", event_id="invoice.paid:7",
                         payload={"invoice": {"id": "7"}}, now=NOW)
    (request,) = receiver.requests
    namespace: dict = {}
    exec(compile(snippet(), str(DOC), "exec"), namespace)
    verify = namespace["verify_billing_signature"]
    header = request.headers["X-Billing-Signature"]
    with time_machine.travel(NOW + dt.timedelta(seconds=10), tick=False):
        assert verify(endpoint.secret, header, request.body) is True
        assert verify("whsec_other", header, request.body) is False
        assert verify(endpoint.secret, header, request.body.replace(b"7", b"8")) is False
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        assert verify(endpoint.secret, header, request.body) is False  # too old
