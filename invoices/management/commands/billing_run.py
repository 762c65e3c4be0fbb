"""``python manage.py billing_run [--as-of 2026-11-01T01:00:00Z] [--queue]``

Rates every due period (and re-rates open drafts) and prints the run's summary. Inline by
default; ``--queue`` records a queued run and hands it to the Celery workers instead.
Either way ``as_of`` follows the API's rules (``invoices.services.run_queue``): not in
the future, not before the earliest contract.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from invoices.services import billing_run
from invoices.services.run_queue import billing_as_of_check, billing_run_request


def parse_as_of(value: str | None, *, now: dt.datetime) -> dt.datetime:
    if not value:
        return now
    try:
        moment = parse_datetime(value)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(f"--as-of {value!r} is not an ISO 8601 time (2026-11-01T01:00:00Z).")
    if moment.tzinfo is None:
        raise CommandError("--as-of needs a timezone (e.g. a trailing Z for UTC).")
    try:
        return billing_as_of_check(as_of=moment, now=now)
    except ValidationError as error:
        raise CommandError(f"--as-of: {' '.join(error.message_dict['as_of'])}") from None


class Command(BaseCommand):
    help = "Bill every contract period that ended at least the grace time ago."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="ISO 8601 time (default: now).")
        parser.add_argument("--queue", action="store_true",
                            help="Queue the run for the Celery workers and return.")

    def handle(self, *args, as_of=None, queue=False, **options):
        now = timezone.now()
        moment = parse_as_of(as_of, now=now)
        if queue:
            from invoices.tasks import run_billing

            run = billing_run_request(as_of=moment, now=now)
            run_billing.delay(run_id=str(run.pk))
            self.stdout.write(f"queued billing run {run.pk} as of {moment.isoformat()}")
            return
        run = billing_run(as_of=moment, now=now)
        self.stdout.write(
            f"billing run {run.pk} as of {moment.isoformat()}: {run.status}\n"
            f"  periods due: {run.periods_due}\n"
            f"  invoices created: {run.invoices_created}\n"
            f"  drafts re-rated: {run.drafts_rerated}\n"
            f"  failures: {len(run.failures)}"
        )
        for failure in run.failures:
            self.stdout.write(f"    {failure['customer']}: {failure['error']}")
