"""The worker's side of ``invoices.ops.kept``: compute a margin report again.

Registered with the worker by ``invoices.tasks`` (Celery discovers ``<app>.tasks`` only).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from invoices.ops.margins import Month


@shared_task(name="invoices.tasks.refresh_margin_book", ignore_result=True)
def refresh_margin_book(month: str, day: str) -> None:
    from invoices.ops import reads

    parsed = Month.parse(month)
    if parsed is not None:
        reads.margin_book(month=parsed, day=dt.date.fromisoformat(day), force=True)


@shared_task(name="invoices.tasks.keep_margin_books", ignore_result=True)
def keep_margin_books() -> list[str]:
    from invoices.ops import reads

    return [str(m) for m in reads.keep_margin_books(now=timezone.now())]
