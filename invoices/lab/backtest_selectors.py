"""Reads of backtests shared by the API, the admin and its CSV export: a backtest, its
rows, and the summary computed from them (``invoices.lab.backtest.summarize``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

from django.db.models import QuerySet

from common.decimals import format_decimal, tidy
from invoices.lab.backtest import CustomerChange, Summary, margin_rate, summarize
from invoices.lab.models import Backtest, BacktestResult

ZERO = Decimal(0)


def backtest_list() -> QuerySet[Backtest]:
    return Backtest.objects.select_related("plan", "plan_version").order_by("-created_at")


def backtest_get(*, backtest_id: uuid.UUID | str) -> Backtest | None:
    try:
        key = backtest_id if isinstance(backtest_id, uuid.UUID) else uuid.UUID(str(backtest_id))
    except ValueError:
        return None
    return backtest_list().filter(pk=key).first()


def backtest_results(*, backtest: Backtest, customer: str | None = None) -> QuerySet:
    """Rows by customer external id, then period."""
    rows = (BacktestResult.objects.filter(backtest=backtest)
            .select_related("customer", "current_version").order_by("customer__external_id",
                                                                     "period_start"))
    if customer is not None:
        rows = rows.filter(customer__external_id=customer)
    return rows


def customer_changes(*, backtest: Backtest) -> list[CustomerChange]:
    """Each customer's totals over its periods, by external id. Summed here, exactly (a
    database's SUM of decimals is a float on SQLite), from one read of the rows."""
    sums: dict[str, list[Decimal]] = {}
    rows = (BacktestResult.objects.filter(backtest=backtest).order_by()
            .values_list("customer__external_id", "current_total", "candidate_total",
                         "provider_cost"))
    for customer, current, candidate, cost in rows.iterator(chunk_size=5000):
        total = sums.setdefault(customer, [ZERO, ZERO, ZERO])
        total[0] += current
        total[1] += candidate
        total[2] += cost
    return [CustomerChange(customer, *(tidy(v) for v in totals))
            for customer, totals in sorted(sums.items())]


def backtest_summary(*, backtest: Backtest, top: int = 5) -> Summary:
    return summarize(customer_changes(backtest=backtest), top=top)


CSV_HEADER = ("customer", "period_start", "period_end", "currency", "current_version",
              "invoiced", "billed_seats", "current_total", "candidate_total", "change",
              "provider_cost", "margin_before", "margin_after", "margin_rate_before",
              "margin_rate_after")


def backtest_csv_rows(*, backtest: Backtest) -> Iterator[tuple]:
    """The header, then one row per customer-period with exact decimals."""
    yield CSV_HEADER
    for r in backtest_results(backtest=backtest).iterator(chunk_size=2000):
        yield (r.customer.external_id, r.period_start.date().isoformat(),
               r.period_end.date().isoformat(), r.currency, r.current_version.version,
               "yes" if r.invoiced else "no", _plain(r.billed_seats), _plain(r.current_total),
               _plain(r.candidate_total), _plain(r.change), _plain(r.provider_cost),
               _plain(r.current_total - r.provider_cost),
               _plain(r.candidate_total - r.provider_cost),
               _plain(margin_rate(r.current_total, r.provider_cost)),
               _plain(margin_rate(r.candidate_total, r.provider_cost)))


def _plain(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)
