from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from billing_site.schedules import SCHEDULES


class Command(BaseCommand):
    help = "Create the periodic jobs in django-celery-beat (idempotent; keeps ops' edits)."

    @transaction.atomic
    def handle(self, *args, **options):
        created = 0
        for job in SCHEDULES:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=job["every"], period=IntervalSchedule.SECONDS
            )
            task, was_created = PeriodicTask.objects.get_or_create(
                name=job["name"], defaults={"task": job["task"], "interval": interval}
            )
            created += was_created
            if task.task != job["task"]:
                # The job now runs another task (e.g. "Roll up usage" also evaluates
                # alerts): follow the code, keep the interval ops may have edited.
                task.task = job["task"]
                task.save(update_fields=["task"])
        self.stdout.write(f"{created} periodic jobs created, {len(SCHEDULES) - created} already there.")
