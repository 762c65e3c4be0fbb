"""Reads for usage alerts, shared by the dashboard panel, the Alerts page and the admin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Customer
from invoices.alerts.models import AlertCrossing, AlertRecipient, AlertThreshold
from invoices.alerts.rules import DEFAULT_PERCENTS


def alerts_for_period(*, customer: Customer, period_start: dt.datetime) -> QuerySet[AlertCrossing]:
    """The crossings of the customer's period starting at ``period_start``, newest first."""
    return AlertCrossing.objects.filter(customer=customer, period_start=period_start)


def current_alerts(*, customer: Customer, at: dt.datetime) -> QuerySet[AlertCrossing]:
    """The crossings of the period containing ``at`` (the dashboard's panel)."""
    return AlertCrossing.objects.filter(customer=customer, period_start__lte=at,
                                        period_end__gt=at)


@dataclass(frozen=True)
class AlertSettings:
    usage_percents: tuple  # what applies (the defaults when the customer chose none)
    percents_are_defaults: bool
    spend_amounts: tuple
    projected_amounts: tuple
    recipients: tuple  # the customer's own list (empty: its billing email)
    fallback_email: str


def alert_settings(*, customer: Customer) -> AlertSettings:
    rows = list(AlertThreshold.objects.filter(customer=customer).values_list("kind", "value"))
    by_kind = {kind: tuple(sorted(v for k, v in rows if k == kind))
               for kind in AlertThreshold.Kind.values}
    percents = by_kind[AlertThreshold.Kind.USAGE_PERCENT]
    return AlertSettings(
        usage_percents=percents or DEFAULT_PERCENTS, percents_are_defaults=not percents,
        spend_amounts=by_kind[AlertThreshold.Kind.SPEND],
        projected_amounts=by_kind[AlertThreshold.Kind.PROJECTED_SPEND],
        recipients=tuple(AlertRecipient.objects.filter(customer=customer)
                         .values_list("email", flat=True)),
        fallback_email=customer.email,
    )


def alert_crossing_count(*, since: dt.datetime) -> int:
    """Crossings recorded (and sent) since ``since``: the ops dashboard's "alerts sent"."""
    return AlertCrossing.objects.filter(crossed_at__gte=since).count()
