"""Where each customer's open period stands, for the alert rules: read through the
upcoming invoice (``invoices.selectors.preview.upcoming_invoice``, the dashboard's own
estimate, so an alert and the dashboard always tell the same numbers) and projected to
the period's end with ``invoices.rating.projection`` (the dashboard's method).

Queries: a constant number per customer (the upcoming invoice's load, which also gives
the seats the projection rates) plus one per run (metric aggregations): O(customers).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q

from accounts.models import Customer
from invoices.alerts.rules import Allowance, PeriodStatus
from invoices.rating.projection import Pace, method_of, project_bill
from invoices.rating.types import LineKind, SeatSpan
from invoices.selectors.billing_load import BILLABLE_CONTRACTS
from invoices.selectors.preview import UpcomingInvoice, upcoming_invoice
from plans.models import Contract, Metric

logger = logging.getLogger(__name__)

# Too early in a period a pace means little (an hour's burst would "project" a month of
# it): projected-bill alerts wait until the period is this old.
PROJECTION_MIN_ELAPSED = dt.timedelta(days=1)


def customers_with_open_period(*, at: dt.datetime) -> list[int]:
    """Ids of the customers with a contract in force on ``at``'s day, ascending."""
    day = at.astimezone(dt.UTC).date()
    return list(
        Contract.objects.filter(status__in=BILLABLE_CONTRACTS, start_date__lte=day)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=day))
        .order_by("customer_id").values_list("customer_id", flat=True).distinct()
    )


def metric_aggregations() -> dict[str, str]:
    return dict(Metric.objects.values_list("code", "aggregation"))


def _name_of(charge_key: str, metric: str, descriptions: Mapping[str, str]) -> str:
    return descriptions.get(charge_key) or metric or charge_key


def _status(upcoming: UpcomingInvoice, seats: Sequence[SeatSpan],
            aggregations: Mapping[str, str], at: dt.datetime) -> PeriodStatus:
    rated = upcoming.rated
    usage_lines = [line for line in rated.rated.lines if line.kind == LineKind.USAGE]
    descriptions = {charge.key: charge.description for charge in rated.terms.charges}
    allowances = tuple(
        Allowance(charge_key=line.charge_key or "", metric=line.metric or "",
                  description=_name_of(line.charge_key or "", line.metric or "", descriptions),
                  used=line.value or Decimal(0), included=line.included or Decimal(0))
        for line in usage_lines if line.included is not None and line.included > 0
    )
    pace = Pace.of(upcoming.period, at)
    projected = None
    if pace.elapsed >= PROJECTION_MIN_ELAPSED:
        usage = {key: Decimal(value) for key, value in rated.usage_snapshot.items()}
        metric_of = {charge.key: charge.metric for charge in rated.terms.charges}
        methods = {key: method_of(aggregations.get(metric_of.get(key, ""), ""))
                   for key in usage}
        carried = [line for line in rated.lines if line.kind == LineKind.LATE_USAGE]
        projected = project_bill(terms=rated.terms, seats=seats, period=upcoming.period,
                                 usage=usage, methods=methods, pace=pace,
                                 carried=carried).total
    return PeriodStatus(
        currency=rated.currency, period_start=upcoming.period.start_at,
        period_end=upcoming.period.end_at, allowances=allowances, bill_so_far=rated.total,
        projected_bill=projected,
    )


def period_statuses(*, customers: Sequence[Customer], at: dt.datetime,
                    aggregations: Mapping[str, str] | None = None) -> dict[int, PeriodStatus]:
    """Each customer's open period at ``at``; customers without one, or whose period
    cannot be rated (logged), are left out."""
    if aggregations is None:
        aggregations = metric_aggregations()
    upcoming: dict[int, UpcomingInvoice] = {}
    for customer in customers:
        try:
            found = upcoming_invoice(customer=customer, at=at)
        except ValidationError as error:
            logger.warning("alerts: customer %s not evaluated: %s", customer.pk, error)
            continue
        if found is not None:
            upcoming[customer.pk] = found
    return {customer_id: _status(found, found.seats, aggregations, at)
            for customer_id, found in upcoming.items()}
