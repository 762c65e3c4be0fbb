"""The pricing lab's background work. Thin: the service runs the backtest."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from invoices.lab.backtest_service import backtest_fail, backtest_run
from invoices.lab.models import Backtest

logger = logging.getLogger(__name__)


@shared_task(name="invoices.lab.tasks.run_backtest", acks_late=True)
def run_backtest(backtest_id: str) -> None:
    # A redelivered task finds the backtest closed (nothing to do) or resumes it: its
    # rows are written once whatever happens (a unique constraint).
    try:
        backtest_run(backtest_id=backtest_id, now=timezone.now())
    except Exception:  # recorded on the backtest (status failed, error) by the service
        logger.exception("backtest %s failed", backtest_id)


def queue_backtest(backtest: Backtest) -> None:
    """Send the backtest to a worker once the transaction that recorded it commits; a
    broker outage closes it as failed, saying so, instead of leaving it queued forever."""

    def send() -> None:
        try:
            run_backtest.delay(str(backtest.pk))
        except OperationalError as error:
            logger.warning("backtest %s could not be queued: %s", backtest.pk, error)
            backtest_fail(backtest_id=backtest.pk, error=f"Could not queue the backtest: {error}",
                          now=timezone.now())

    transaction.on_commit(send)
