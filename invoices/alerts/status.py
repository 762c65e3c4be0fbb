"""Where each customer's open period stands, for the alert rules: the upcoming invoice's
numbers (the estimate the dashboard shows, so an alert and the page agree), projected to
the period's end with ``invoices.rating.projection`` (the dashboard's method).

``period_statuses`` loads a whole chunk of customers at once with the billing run's
loader (``invoices.selectors.billing_load.load_open_periods``: the open period of each
customer's contract in force, earlier invoices' late usage included) and rates it with
the same engine (``rate_work``): a handful of queries per chunk, whatever its size.
``period_status_of`` builds the same status from one ``UpcomingInvoice`` (a test holds
the two equal).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db.models import Q

from invoices.alerts.rules import Allowance, PeriodStatus
from invoices.rating.drafts import RatedInvoice, rate_work
from invoices.rating.planning import ContractTerms, spans_overlapping
from invoices.rating.projection import Pace, method_of, project_bill
from invoices.rating.types import LineKind, SeatSpan
from invoices.selectors.billing_load import BILLABLE_CONTRACTS, load_contracts, load_open_periods
from invoices.selectors.preview import UpcomingInvoice
from plans.models import Contract, Metric
from plans.periods import Period

logger = logging.getLogger(__name__)

# Too early in a period a pace means little (an hour's burst would "project" a month of
# it): projected-bill alerts wait until the period is this old.
PROJECTION_MIN_ELAPSED = dt.timedelta(days=1)


def _in_force(day: dt.date) -> Q:
    return (Q(status__in=BILLABLE_CONTRACTS, start_date__lte=day)
            & (Q(end_date__isnull=True) | Q(end_date__gte=day)))


def customers_with_open_period(*, at: dt.datetime) -> list[int]:
    """Ids of the customers with a contract in force on ``at``'s day, ascending."""
    day = at.astimezone(dt.UTC).date()
    return list(
        Contract.objects.filter(_in_force(day)).order_by("customer_id")
        .values_list("customer_id", flat=True).distinct()
    )


def metric_aggregations() -> dict[str, str]:
    return dict(Metric.objects.values_list("code", "aggregation"))


def _status(rated: RatedInvoice, period: Period, seats: Sequence[SeatSpan],
            aggregations: Mapping[str, str], at: dt.datetime) -> PeriodStatus:
    usage_lines = [line for line in rated.rated.lines if line.kind == LineKind.USAGE]
    descriptions = {charge.key: charge.description for charge in rated.terms.charges}
    allowances = tuple(
        Allowance(charge_key=line.charge_key or "", metric=line.metric or "",
                  description=descriptions.get(line.charge_key or "") or line.metric or "",
                  used=line.value or Decimal(0), included=line.included or Decimal(0))
        for line in usage_lines if line.included is not None and line.included > 0
    )
    pace = Pace.of(period, at)
    projected = None
    if pace.elapsed >= PROJECTION_MIN_ELAPSED:
        methods = {line.charge_key: method_of(aggregations.get(line.metric or "", ""))
                   for line in usage_lines}
        carried = [line for line in rated.lines if line.kind == LineKind.LATE_USAGE]
        projected = project_bill(
            terms=rated.terms, seats=seats, period=period, methods=methods, pace=pace,
            usage={line.charge_key: line.value for line in usage_lines}, carried=carried,
        ).total
    return PeriodStatus(
        currency=rated.currency, period_start=period.start_at, period_end=period.end_at,
        allowances=allowances, bill_so_far=rated.total, projected_bill=projected,
    )


def period_status_of(upcoming: UpcomingInvoice, *, at: dt.datetime,
                     aggregations: Mapping[str, str]) -> PeriodStatus:
    return _status(upcoming.rated, upcoming.period, upcoming.seats, aggregations, at)


def _contract_in_force(contracts: Sequence[ContractTerms]) -> list[ContractTerms]:
    """Per customer, the contract the upcoming invoice would pick: the latest start."""
    chosen: dict[int, ContractTerms] = {}
    for contract in contracts:
        best = chosen.get(contract.customer_id)
        if best is None or (contract.calendar.start, contract.contract_id) > (
                best.calendar.start, best.contract_id):
            chosen[contract.customer_id] = contract
    return [chosen[pk] for pk in sorted(chosen)]


def period_statuses(*, customer_ids: Sequence[int], at: dt.datetime,
                    aggregations: Mapping[str, str] | None = None) -> dict[int, PeriodStatus]:
    """Each customer's open period at ``at``, for a chunk of customers at once; those
    without a contract in force, or whose period cannot be rated (logged), are left out."""
    if aggregations is None:
        aggregations = metric_aggregations()
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    day = at.astimezone(dt.UTC).date()
    contracts = _contract_in_force(load_contracts(where=Q(customer_id__in=ids) & _in_force(day)))
    if not contracts:
        return {}
    work = load_open_periods(contracts=contracts, day=day).work
    statuses = {}
    for rating in rate_work(work):
        if rating.error is not None or not rating.invoices:
            logger.warning("alerts: customer %s not evaluated: %s", rating.customer_id,
                           rating.error)
            continue
        (rated,) = rating.invoices
        period = rated.target.period
        seats = spans_overlapping(work.seats.get(rating.customer_id, ()), period)
        statuses[rating.customer_id] = _status(rated, period, seats, aggregations, at)
    return statuses
