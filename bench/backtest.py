"""Backtest benchmark on PostgreSQL: 10,000 customers × 3 periods beside billing runs.

Builds, in a dedicated database (default ``billing_bench_backtest``, dropped at the end
unless ``--keep``), 10,000 customers on the hybrid plan of ``bench/billing_run.py``'s
catalog (40.00 a seat, tasks at 0.05 above 100 per seat) with monthly contracts from
1 August 2026, 1–8 seats each, and 3,000,000 events over August to October (four in five
``task.completed``, the rest ``ai.call`` with tokens), each with a provider cost; loaded
with COPY, through the billing benchmark's own setup code. The candidate is a draft
version 2: 25.00 a seat, tasks at 0.04 above 200 per seat, and graduated tokens.

Then times, each from no invoices and inline in one process:

1. a billing run of one period (as of 1 September: August);
2. a billing run of the three periods (as of 1 November);
3. the backtest of version 2 over the three periods, after run 2 (every period invoiced:
   the candidate is rated, the current totals are the invoices');
4. the same backtest with no invoices (each period rated on its own version too).

The goal: a backtest of three periods takes at most three times one billing run of one
period. ``--repeat`` keeps the best of several runs of each.

    .venv/bin/python bench/backtest.py
    .venv/bin/python bench/backtest.py --customers 1000 --events 300000 --keep
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import billing_run as billing_bench  # noqa: E402 (after the path is set)
from bench.harness import all_times, load_average  # noqa: E402

START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
ONE_PERIOD_AS_OF = dt.datetime(2026, 9, 1, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
GOAL = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--db", default="billing_bench_backtest")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Times each measurement; the best is reported.")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("--db must name a benchmark database (its name contains 'bench')")
    return args


def drop_database(server: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped database {name}")


def load(customers: int, events: int) -> int:
    """The book; returns the candidate version's number."""
    from django.db import connection, transaction

    from plans.models import PlanVersion
    from plans.services import plan_version_create

    rng = random.Random(20260801)
    started = time.perf_counter()
    copy_rows = billing_bench.copy_rows
    with transaction.atomic():
        versions = billing_bench.build_catalog()
        hybrid = PlanVersion.objects.select_related("plan").get(pk=versions["hybrid"])
        candidate = plan_version_create(
            plan=hybrid.plan, effective_from=dt.date(2026, 12, 1), seat_price="25.00",
            charges=[
                {"metric": "tasks", "model": "per_unit", "unit_price": "0.04",
                 "included_per_seat": 200},
                {"metric": "tokens", "model": "graduated", "tiers": [
                    {"up_to": 200000, "unit_price": "0", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]},
            ])
        now = dt.datetime.now(dt.UTC).isoformat()
        copy_rows("accounts_customer",
                  ["external_id", "name", "email", "currency", "stripe_customer_id", "archived",
                   "created_at", "updated_at"],
                  (f"c{n:05d}\tCustomer {n}\tbilling@c{n:05d}.test\tUSD\t\tf\t{now}\t{now}\n"
                   for n in range(customers)))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts_customer ORDER BY external_id")
            ids = [row[0] for row in cursor.fetchall()]
        copy_rows("plans_contract",
                  ["customer_id", "plan_version_id", "status", "start_date", "anchor_date",
                   "auto_renew", "renewal", "committed_seats", "created_at", "updated_at"],
                  (f"{cid}\t{hybrid.pk}\tactive\t2026-08-01\t2026-08-01\tt\tgrandfather\t2\t"
                   f"{now}\t{now}\n" for cid in ids))
        seats: dict[int, list[str]] = {}

        def seat_lines():
            for cid in ids:
                seats[cid] = [f"user{i}@c{cid}.test" for i in range(rng.randint(1, 8))]
                for i, email in enumerate(seats[cid]):
                    # Most seats all along; every fourth joins during the three months.
                    begin = START - dt.timedelta(days=30) if i % 4 else (
                        START + dt.timedelta(days=rng.randint(0, 85)))
                    yield f"{cid}\t{email}\t\t{begin.isoformat()}\t\\N\t{now}\t{now}\n"

        copy_rows("accounts_seat", ["customer_id", "email", "name", "active_from",
                                    "active_until", "created_at", "updated_at"], seat_lines())
        span = int((END - START).total_seconds())
        base, extra = divmod(events, customers)

        def event_lines():
            tx = 0
            for n, cid in enumerate(ids):
                emails = seats[cid]
                for _ in range(base + (1 if n < extra else 0)):
                    tx += 1
                    when = START + dt.timedelta(seconds=rng.randrange(span))
                    seat = emails[tx % len(emails)]
                    if tx % 5:
                        props = json.dumps({"seat": seat, "initiated_by": "agent"})
                        event_type, model, cost = "task.completed", "", "0.003"
                    else:
                        i, o = rng.randint(100, 4000), rng.randint(20, 1000)
                        props = json.dumps({"model": "gpt-4.1-mini", "input_tokens": i,
                                            "output_tokens": o, "total_tokens": i + o,
                                            "latency_tier": "realtime", "seat": seat})
                        event_type, model = "ai.call", "gpt-4.1-mini"
                        cost = f"{(i * 0.4 + o * 1.6) / 1_000_000:.12f}"
                    received = (when + dt.timedelta(seconds=2)).isoformat()
                    yield (f"{cid}\t{tx:010d}\t{event_type}\t{when.isoformat()}\t{props}\t"
                           f"{model}\t{seat}\t{cost}\tf\t{received}\n")

        copy_rows("usage_event", ["customer_id", "transaction_id", "event_type", "timestamp",
                                  "properties", "model", "seat", "provider_cost", "unpriced",
                                  "received_at"], event_lines())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {customers} customers and {events} events in "
          f"{time.perf_counter() - started:.1f} s")
    return candidate.version


def time_billing(as_of: dt.datetime):
    from invoices.services import billing_run

    billing_bench.reset_invoices()
    started = time.perf_counter()
    run = billing_run(as_of=as_of, now=dt.datetime.now(dt.UTC))
    return time.perf_counter() - started, run


def time_backtest(version: int, *, invoiced: bool):
    from django.db import connection

    from invoices.lab.backtest_service import backtest_create, backtest_run

    if invoiced:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE lab_backtestresult, lab_backtest")
    else:
        billing_bench.reset_invoices()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE lab_backtestresult, lab_backtest")
    started = time.perf_counter()
    backtest = backtest_create(plan="hybrid", plan_version=version, periods=3, now=AS_OF)
    backtest = backtest_run(backtest_id=backtest.pk, now=AS_OF)
    return time.perf_counter() - started, backtest


def main() -> None:
    args = parse_args()
    billing_bench.ensure_database(args.server, args.db)
    billing_bench.setup_django(f"{args.server}/{args.db}")
    try:
        run_all(args)
    finally:
        if not args.keep:
            drop_database(args.server, args.db)


def run_all(args: argparse.Namespace) -> None:
    from django.db import connection

    from invoices.lab.backtest_selectors import backtest_summary
    from invoices.models import Invoice

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM usage_event")
        fresh = cursor.fetchone()[0] == 0
    if not fresh:
        raise SystemExit(f"{args.db} already holds events: drop it or name another --db")
    version = load(args.customers, args.events)
    best = billing_bench.best_of
    print(f"{args.customers} customers × 3 periods, {args.events} events, "
          f"{os.cpu_count()} CPUs, load average {load_average()}")
    one, run, times = best(args.repeat, lambda: time_billing(ONE_PERIOD_AS_OF))
    print(f"  billing run, 1 period:   {one:7.2f} s, {run.invoices_created} invoices "
          f"({all_times(times)})")
    three, run, times = best(args.repeat, lambda: time_billing(AS_OF))
    print(f"  billing run, 3 periods:  {three:7.2f} s, {run.invoices_created} invoices "
          f"({all_times(times)})")
    invoiced_total = sum(Invoice.objects.values_list("total", flat=True))
    with_invoices, backtest, times = best(args.repeat, lambda: time_backtest(version,
                                                                             invoiced=True))
    summary = backtest_summary(backtest=backtest)
    assert summary.current_total == invoiced_total, (summary.current_total, invoiced_total)
    print(f"  backtest, 3 periods invoiced: {with_invoices:7.2f} s, {backtest.results.count()} "
          f"results, status {backtest.status} ({all_times(times)})")
    bare, backtest, times = best(args.repeat, lambda: time_backtest(version, invoiced=False))
    assert backtest_summary(backtest=backtest).current_total == invoiced_total
    print(f"  backtest, nothing invoiced:   {bare:7.2f} s, {backtest.results.count()} "
          f"results ({all_times(times)})")
    print(f"  current {summary.current_total:.2f} USD → candidate {summary.candidate_total:.2f} "
          f"USD, provider cost {summary.provider_cost:.2f} USD; "
          f"{summary.customers_paying_more} pay more, {summary.customers_paying_less} less")
    for label, seconds in (("invoiced", with_invoices), ("nothing invoiced", bare)):
        ratio = seconds / one
        verdict = "within" if ratio <= GOAL else "OVER"
        print(f"  ratio backtest ({label}) / one billing run of one period: {ratio:.2f}x "
              f"({verdict} the goal of {GOAL:.0f}x); / the 3-period run: {seconds / three:.2f}x")
    print(f"  load average at the end {load_average()}")


if __name__ == "__main__":
    main()
