"""``python manage.py billing_run [--as-of 2026-11-01T01:00:00Z] [--queue]``

Rates every due period (and re-rates open drafts) and prints the run's summary. Inline by
default; ``--queue`` hands the chunks to the Celery workers instead.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invoices.services import billing_run


def parse_as_of(value: str | None) -> dt.datetime:
    if not value:
        return timezone.now()
    moment = parse_datetime(value)
    if moment is None:
        raise CommandError(f"--as-of {value!r} is not an ISO 8601 time (2026-11-01T01:00:00Z).")
    if moment.tzinfo is None:
        raise CommandError("--as-of needs a timezone (e.g. a trailing Z for UTC).")
    return moment.astimezone(dt.UTC)


class Command(BaseCommand):
    help = "Bill every contract period that ended at least the grace time ago."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="ISO 8601 time (default: now).")
        parser.add_argument("--queue", action="store_true",
                            help="Queue one Celery task per chunk of customers and return.")

    def handle(self, *args, as_of=None, queue=False, **options):
        moment = parse_as_of(as_of)
        if queue:
            from invoices.tasks import run_billing

            run_id = run_billing.delay(moment.isoformat())
            self.stdout.write(f"queued billing run as of {moment.isoformat()} ({run_id})")
            return
        run = billing_run(as_of=moment)
        self.stdout.write(
            f"billing run {run.pk} as of {moment.isoformat()}: {run.status}\n"
            f"  periods due: {run.periods_due}\n"
            f"  invoices created: {run.invoices_created}\n"
            f"  drafts re-rated: {run.drafts_rerated}\n"
            f"  failures: {len(run.failures)}"
        )
        for failure in run.failures:
            self.stdout.write(f"    {failure['customer']}: {failure['error']}")
