"""Scheduled jobs for contracts. Thin: they call services."""

from celery import shared_task
from django.utils import timezone

from plans.services import contract_renew_due


@shared_task
def renew_contracts() -> int:
    return len(contract_renew_due(now=timezone.now()))
