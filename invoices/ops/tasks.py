"""The worker's side of ``invoices.ops.kept``: compute a margin report again.

Registered with the worker by ``invoices.tasks`` (Celery discovers ``<app>.tasks`` only).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from invoices.ops.margins import Month


@shared_task(name="invoices.tasks.refresh_margin_book", ignore_result=True)
def refresh_margin_book(month: str, day: str) -> None:
    from invoices.ops import reads

    parsed = Month.parse(month)
    if parsed is not None:
        reads.margin_book(month=parsed, day=dt.date.fromisoformat(day), force=True)
