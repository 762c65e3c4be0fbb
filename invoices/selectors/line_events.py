"""Which events stand behind a usage line of an invoice: its metric, its charge's filters
and its period, for the portal's events export (``usage.exports.metric_events`` reads
them).

- A usage line measures its charge over the invoice's period.
- A late-usage line bills the events of an earlier period that arrived after that period
  was invoiced; its events are that period's events of the metric, the late ones among
  them being those received after the earlier invoice was finalized (the export's
  ``received_at`` column tells them apart).

A charge is found by its key (``invoices.selectors.terms.charge_key``) among the charges
of the version the period was billed on: the invoice's own, or for a late line the
version of the earlier period's invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from invoices.models import Invoice, InvoiceLine
from invoices.selectors.terms import charge_key
from plans.models import Charge, Metric
from plans.periods import at_midnight

EVENT_LINE_KINDS = (InvoiceLine.Kind.USAGE, InvoiceLine.Kind.LATE_USAGE)


@dataclass(frozen=True)
class LineEvents:
    line: InvoiceLine
    metric: Metric
    start: dt.datetime
    end: dt.datetime
    filters: Mapping = field(default_factory=dict)


def line_events_source(*, invoice: Invoice, position: int) -> LineEvents | None:
    """What the events export of line ``position`` reads; None for a line without events
    (seats, fees, adjustments) or an unknown position."""
    line = (InvoiceLine.objects.filter(invoice=invoice, position=position,
                                       kind__in=EVENT_LINE_KINDS)
            .exclude(metric="").first())
    if line is None:
        return None
    metric = Metric.objects.filter(code=line.metric).first()
    if metric is None:
        return None
    version_id = invoice.plan_version_id
    if line.kind == InvoiceLine.Kind.LATE_USAGE and line.period_start and line.period_end:
        start, end = at_midnight(line.period_start), at_midnight(line.period_end)
        earlier = (Invoice.objects.filter(customer_id=invoice.customer_id, period_start=start)
                   .exclude(status=Invoice.Status.VOID).values_list("plan_version_id", flat=True)
                   .first())
        version_id = earlier or version_id
    else:
        start, end = invoice.period_start, invoice.period_end
    return LineEvents(line=line, metric=metric, start=start, end=end,
                      filters=_charge_filters(version_id, line))


def _charge_filters(version_id: int, line: InvoiceLine) -> Mapping:
    wanted = line.charge_key or line.metric
    charges = Charge.objects.filter(plan_version_id=version_id, metric__code=line.metric)
    for charge in charges.order_by("position", "pk"):
        key = charge_key(metric_code=line.metric, filters=charge.filters)
        if wanted in (key, f"{key}#{charge.position}"):
            return dict(charge.filters or {})
    return {}
