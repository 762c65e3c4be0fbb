"""The entry points other apps call: publish an event, replay a failed delivery.

Both write inside the caller's transaction and queue the delivery tasks on its commit,
so a rolled-back finalize sends nothing and a committed one is always delivered (the
scheduled sweep picks up a task the broker lost).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.outbound.models import Delivery
from accounts.outbound.services import deliveries_create, delivery_replay
from accounts.outbound.tasks import queue_deliveries


@transaction.atomic
def outbound_publish(*, event_type: str, event_id: str, payload: Mapping[str, Any],
                     now: dt.datetime) -> list[int]:
    """Deliver an event to every active endpoint subscribed to it, once per endpoint
    whatever the number of calls: ``event_id`` must be built from our own row ids
    (``f"invoice.finalized:{invoice.pk}"``). Returns the ids of the deliveries queued."""
    ids = deliveries_create(event_type=event_type, event_id=event_id, payload=payload, now=now)
    queue_deliveries(ids)
    return ids


@transaction.atomic
def outbound_replay(*, delivery: Delivery, now: dt.datetime) -> Delivery:
    delivery = delivery_replay(delivery=delivery, now=now)
    queue_deliveries([delivery.pk])
    return delivery
