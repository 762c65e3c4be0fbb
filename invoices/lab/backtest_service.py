"""Backtests: record one, run it chunk by chunk, close it.

A run goes the billing run's way, minus the invoice writer: per chunk of customers
(``BILLING_RUN_CHUNK_SIZE``) one load of every customer × period
(``invoices.lab.backtest_load``, on ``invoices.selectors.billing_load``), the billing
engine (``invoices.rating.drafts.rate_work``) on the candidate and on the own versions,
the pure comparison (``invoices.lab.backtest``), then the chunk's rows and progress in
one transaction. Price books and window scans are shared by the chunks, as in an inline
billing run. Rows are unique per (backtest, customer, period start) and inserted with
ON CONFLICT DO NOTHING, so a task delivered twice writes each row once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import psycopg
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from accounts.models import Customer
from common.bounds import check_count
from common.decimals import tidy
from invoices.lab.backtest import Row, compare, split_work
from invoices.lab.backtest_load import ProviderCosts, load_backtest, plan_customer_ids
from invoices.lab.models import MAX_BACKTEST_PERIODS, Backtest, BacktestResult
from invoices.rating.books import PriceBook
from invoices.rating.drafts import rate_work
from invoices.rating.planning import cutoff_day, period_moments
from invoices.selectors.usage import WindowScans
from invoices.services.billing_run import chunk_size, chunks, cyclic_gc_paused
from plans.models import Plan, PlanVersion

MAX_LISTED_CUSTOMERS = 10_000


@transaction.atomic
def backtest_create(*, plan: str, plan_version: int, periods: int,
                    customers: Sequence[str] | None = None, now: dt.datetime) -> Backtest:
    """A queued backtest of version ``plan_version`` of plan ``plan`` (codes and numbers
    as the API names them) over each customer's latest ``periods`` ended periods."""
    check_count("periods", periods, minimum=1, maximum=MAX_BACKTEST_PERIODS)
    found_plan = Plan.objects.filter(code=plan).first()
    if found_plan is None:
        raise ValidationError({"plan": [f"No plan with code {plan!r}."]})
    check_count("plan_version", plan_version, minimum=1, maximum=2**31 - 1)
    version = PlanVersion.objects.filter(plan=found_plan, version=plan_version).first()
    if version is None:
        raise ValidationError({"plan_version": [f"Plan {plan} has no version {plan_version}."]})
    listed: list[str] = []
    if customers:
        listed = list(dict.fromkeys(customers))
        if len(listed) > MAX_LISTED_CUSTOMERS:
            raise ValidationError({"customers": [
                f"List at most {MAX_LISTED_CUSTOMERS} customers, or none for all on the plan."]})
        ids = dict(Customer.objects.filter(external_id__in=listed).values_list("external_id", "pk"))
        if missing := [c for c in listed if c not in ids]:
            raise ValidationError({"customers": [f"Unknown customers: {', '.join(missing[:20])}."]})
        on_plan = set(plan_customer_ids(plan_id=found_plan.pk, customer_ids=ids.values()))
        if off := [c for c in listed if ids[c] not in on_plan]:
            raise ValidationError({"customers": [
                f"No contract on plan {plan}: {', '.join(off[:20])}."]})
    return Backtest.objects.create(plan=found_plan, plan_version=version, periods=periods,
                                   customers=listed, as_of=now, created_at=now)


def _chosen_customers(backtest: Backtest) -> list[int]:
    ids = None
    if backtest.customers:
        ids = Customer.objects.filter(external_id__in=backtest.customers).values_list(
            "pk", flat=True)
    return plan_customer_ids(plan_id=backtest.plan_id, customer_ids=ids)


@transaction.atomic
def backtest_begin(*, backtest_id: uuid.UUID | str, now: dt.datetime) -> Backtest | None:
    """Claim a queued (or interrupted) backtest; None when it is already closed."""
    backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
    if backtest.status in (Backtest.Status.DONE, Backtest.Status.FAILED):
        return None
    backtest.status = Backtest.Status.RUNNING
    backtest.started_at = backtest.started_at or now
    backtest.customers_total = len(_chosen_customers(backtest))
    backtest.customers_done = 0
    backtest.save()
    return backtest


def backtest_run(*, backtest_id: uuid.UUID | str, now: dt.datetime,
                 size: int | None = None) -> Backtest:
    """Run a backtest inline, chunk after chunk, and return it closed; an error closes it
    as failed, saying why, and is raised again."""
    backtest = backtest_begin(backtest_id=backtest_id, now=now)
    if backtest is None:
        return Backtest.objects.get(pk=backtest_id)
    try:
        parts = chunks(_chosen_customers(backtest), size or chunk_size())
        books: dict[int, PriceBook] = {}
        scans = WindowScans(lo=parts[0][0], hi=parts[-1][-1]) if parts else None
        costs = ProviderCosts(customer_ids=[c for part in parts for c in part])
        for part in parts:
            backtest_chunk(backtest=backtest, customer_ids=part, books=books, scans=scans,
                           costs=costs)
    except Exception as error:
        backtest_fail(backtest_id=backtest.pk, error=f"{type(error).__name__}: {error}",
                      now=now)
        raise
    return backtest_finish(backtest_id=backtest.pk, now=now)


def backtest_chunk(*, backtest: Backtest, customer_ids: Sequence[int],
                   books: dict[int, PriceBook] | None = None,
                   scans: WindowScans | None = None,
                   costs: ProviderCosts | None = None) -> list[Row]:
    """Re-rate some customers (sorted ids) and save their rows and the progress."""
    with cyclic_gc_paused():
        loaded = load_backtest(
            plan_id=backtest.plan_id, candidate_id=backtest.plan_version_id,
            customer_ids=customer_ids, until=cutoff_day(backtest.as_of),
            periods=backtest.periods, books=books, scans=scans, costs=costs,
        )
        candidate, current = split_work(loaded.work, loaded.plan)
        rows, errors = compare(candidate=rate_work(candidate), current=rate_work(current),
                               invoiced=loaded.invoiced, provider_cost=loaded.provider_cost)
        _save_chunk(backtest, rows, errors, done=len(customer_ids))
    return rows


RESULT_COLUMNS = ("backtest_id", "customer_id", "contract_id", "period_start", "period_end",
                  "currency", "current_version_id", "invoiced", "current_total",
                  "candidate_total", "provider_cost", "billed_seats")


@transaction.atomic
def _save_chunk(backtest: Backtest, rows: Sequence[Row], errors: dict[int, str], *,
                done: int) -> None:
    values = []
    for row in rows:
        start, end = period_moments(row.period)
        values.append((backtest.pk, row.customer_id, row.contract_id, start, end, row.currency,
                       row.current_version_id, row.invoiced, row.current_total,
                       row.candidate_total, row.provider_cost, tidy(row.billed_seats)))
    insert_results(values)
    failures = []
    if errors:
        names = dict(Customer.objects.filter(pk__in=errors).values_list("pk", "external_id"))
        failures = [{"customer": names.get(pk, str(pk)), "error": error[:500]}
                    for pk, error in sorted(errors.items())]
    locked = Backtest.objects.select_for_update().get(pk=backtest.pk)
    Backtest.objects.filter(pk=backtest.pk).update(
        customers_done=F("customers_done") + done, failures=[*locked.failures, *failures])


def insert_results(values: Sequence[tuple]) -> None:
    """Result rows (``RESULT_COLUMNS``) in: with COPY on PostgreSQL (a 10,000-customer
    backtest writes 30,000 rows; Django's per-field preparation took most of the save),
    and when some are in already (a task delivered twice) each row once, through
    ``bulk_create`` with ON CONFLICT DO NOTHING, as on SQLite."""
    if not values:
        return
    if connection.vendor == "postgresql":
        table = BacktestResult._meta.db_table
        by_attname = {f.attname: f.column for f in BacktestResult._meta.concrete_fields}
        columns = ", ".join(by_attname[name] for name in RESULT_COLUMNS)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for value in values:
                        copy.write_row(value)
            return
        except (IntegrityError, psycopg.errors.UniqueViolation):
            pass  # (COPY's own error is psycopg's) the savepoint is rolled back: go row-wise
    BacktestResult.objects.bulk_create(
        [BacktestResult(**dict(zip(RESULT_COLUMNS, value, strict=True))) for value in values],
        batch_size=2000, ignore_conflicts=True)


@transaction.atomic
def backtest_finish(*, backtest_id: uuid.UUID | str, now: dt.datetime) -> Backtest:
    backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
    backtest.status = Backtest.Status.DONE
    backtest.customers_done = backtest.customers_total
    backtest.finished_at = now
    backtest.save()
    return backtest


@transaction.atomic
def backtest_fail(*, backtest_id: uuid.UUID | str, error: str, now: dt.datetime) -> Backtest:
    """Close a backtest that cannot go on (not queued, or an error), saying why."""
    backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
    backtest.status = Backtest.Status.FAILED
    backtest.error = error[:2000]
    backtest.finished_at = now
    backtest.save()
    return backtest
