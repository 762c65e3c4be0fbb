"""Billing-run benchmark on PostgreSQL.

Builds (once; reused while the counts match) 10,000 customers with contracts on the three
plan kinds — seat-based, usage per token with graduated tiers, hybrid with tasks included
per seat — and 5,000,000 events in October 2026, loaded with COPY into a dedicated
database. Then times, for the same month:

1. one bare SQL ``GROUP BY customer_id, event_type`` over the events (the floor: every
   event read once, no rating, nothing written);
2. a billing run inline in one process (rating every customer, saving the drafts);
3. the same billing run split over two worker processes.

Each is timed the same way: ``--repeat`` times (default 3) on a warm cache, best kept,
so the ratio compares like with like. Each billing run starts from no invoices.
``--rollups`` runs the rollup job first (what production sees: it runs every few
minutes); a run over thousands of customers on one period reads the window's raw events
in one scan either way (invoices/selectors/usage.py).

    .venv/bin/python bench/billing_run.py                 # 10k customers, 5M events
    .venv/bin/python bench/billing_run.py --rollups       # with the hourly rollups built
    .venv/bin/python bench/billing_run.py --customers 1000 --events 200000 --db bench_small

The database (default ``billing_bench_run`` on postgres://postgres@127.0.0.1:5432) is
created when missing. ``--reload`` rebuilds the data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from harness import all_times, load_average

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTH_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
MONTH_END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 11, 1, 1, tzinfo=dt.UTC)
PLAN_KINDS = ("seat", "usage", "hybrid")
BARE_SQL = """
SELECT customer_id, event_type, count(*), sum((properties->>'total_tokens')::numeric)
FROM usage_event
WHERE timestamp >= %s AND timestamp < %s
GROUP BY 1, 2
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--db", default="billing_bench_run")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reload", action="store_true", help="Rebuild the data.")
    parser.add_argument("--rollups", action="store_true",
                        help="Build the hourly rollups before timing (production's state).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3,
                        help="Times each measurement; the best is reported.")
    parser.add_argument("--chunk", type=int, default=None,
                        help="Customers per chunk (default: BILLING_RUN_CHUNK_SIZE, 5000).")
    return parser.parse_args()


def ensure_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("BILLING_VAR_DIR", str(Path(tempfile.gettempdir()) / "billing_bench"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- Loading -------------------------------------------------------------------------------


def loaded(customers: int, events: int) -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_customer")
        have_customers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM usage_event")
        have_events = cursor.fetchone()[0]
    return have_customers == customers and have_events == events


def build_catalog():
    from django.utils import timezone

    from plans.services import metric_create, plan_create, plan_version_create, plan_version_publish

    metric_create(code="tasks", name="Tasks completed", event_type="task.completed",
                  aggregation="count")
    metric_create(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                  field="total_tokens")
    specs = {
        "seat": {"seat_price": "30.00", "charges": []},
        "usage": {"seat_price": "0", "base_fee": "20.00", "charges": [
            {"metric": "tokens", "model": "graduated", "tiers": [
                {"up_to": 100000, "unit_price": "0", "flat_fee": "0"},
                {"up_to": 1000000, "unit_price": "0.000002", "flat_fee": "0"},
                {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]}]},
        "hybrid": {"seat_price": "40.00", "charges": [
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.05",
             "included_per_seat": 100}]},
    }
    versions = {}
    for kind, spec in specs.items():
        plan = plan_create(code=kind, name=kind.title())
        version = plan_version_create(plan=plan, effective_from=dt.date(2026, 1, 1), **spec)
        versions[kind] = plan_version_publish(version=version, now=timezone.now()).pk
    return versions


def copy_rows(table: str, columns: list[str], lines) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n, line in enumerate(lines, 1):
                buffer.write(line)
                if n % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())


def load(customers: int, events: int) -> None:
    from django.db import connection, transaction

    rng = random.Random(20261001)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE usage_event, usage_usagerollup, usage_rollupwatermark, "
            "invoices_invoiceline, invoices_invoice, invoices_billingrun, "
            "invoices_invoicenumbersequence, plans_contractmigration, plans_contract, "
            "plans_historicalcontract, accounts_seat, accounts_customer, plans_chargetier, "
            "plans_historicalchargetier, plans_charge, plans_historicalcharge, "
            "plans_planversion, plans_historicalplanversion, plans_plan, plans_metric CASCADE"
        )
    with transaction.atomic():
        versions = build_catalog()
        now = dt.datetime.now(dt.UTC).isoformat()
        copy_rows("accounts_customer",
                  ["external_id", "name", "email", "currency", "stripe_customer_id", "archived",
                   "created_at", "updated_at"],
                  (f"c{n:05d}\tCustomer {n}\tbilling@c{n:05d}.test\tUSD\t\tf\t{now}\t{now}\n"
                   for n in range(customers)))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts_customer ORDER BY external_id")
            ids = [row[0] for row in cursor.fetchall()]
        kinds = {cid: PLAN_KINDS[n % 3] for n, cid in enumerate(ids)}
        copy_rows("plans_contract",
                  ["customer_id", "plan_version_id", "status", "start_date", "anchor_date",
                   "auto_renew", "renewal", "committed_seats", "created_at", "updated_at"],
                  (f"{cid}\t{versions[kinds[cid]]}\tactive\t2026-10-01\t2026-10-01\tt\t"
                   f"grandfather\t{2 if kinds[cid] != 'usage' else 0}\t{now}\t{now}\n"
                   for cid in ids))
        seats: dict[int, list[str]] = {}

        def seat_lines():
            for cid in ids:
                count = rng.randint(1, 8)
                seats[cid] = [f"user{i}@c{cid}.test" for i in range(count)]
                for i, email in enumerate(seats[cid]):
                    start = MONTH_START - dt.timedelta(days=30) if i % 4 else (
                        MONTH_START + dt.timedelta(days=rng.randint(0, 27)))
                    yield f"{cid}\t{email}\t\t{start.isoformat()}\t\\N\t{now}\t{now}\n"

        copy_rows("accounts_seat", ["customer_id", "email", "name", "active_from",
                                    "active_until", "created_at", "updated_at"], seat_lines())

        span = int((MONTH_END - MONTH_START).total_seconds())
        base, extra = divmod(events, customers)

        def event_lines():
            tx = 0
            for n, cid in enumerate(ids):
                kind = kinds[cid]
                emails = seats[cid]
                for _ in range(base + (1 if n < extra else 0)):
                    tx += 1
                    when = MONTH_START + dt.timedelta(seconds=rng.randrange(span))
                    seat = emails[tx % len(emails)]
                    if kind == "hybrid" and tx % 5:
                        props = json.dumps({"seat": seat, "initiated_by": "agent"})
                        event_type, model = "task.completed", ""
                    else:
                        i, o = rng.randint(100, 4000), rng.randint(20, 1000)
                        props = json.dumps({"model": "gpt-4.1-mini", "input_tokens": i,
                                            "output_tokens": o, "total_tokens": i + o,
                                            "latency_tier": "realtime", "seat": seat})
                        event_type, model = "ai.call", "gpt-4.1-mini"
                    received = (when + dt.timedelta(seconds=2)).isoformat()
                    yield (f"{cid}\t{tx:010d}\t{event_type}\t{when.isoformat()}\t{props}\t"
                           f"{model}\t{seat}\t0\tf\t{received}\n")

        copy_rows("usage_event", ["customer_id", "transaction_id", "event_type", "timestamp",
                                  "properties", "model", "seat", "provider_cost", "unpriced",
                                  "received_at"], event_lines())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {customers} customers and {events} events in "
          f"{time.perf_counter() - started:.1f} s")


# --- Timing ---------------------------------------------------------------------------------


def reset_invoices() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # Only drafts exist here; TRUNCATE skips the row triggers that guard finalized ones.
        cursor.execute("TRUNCATE invoices_invoiceline, invoices_invoice, invoices_billingrun")
        cursor.execute("ANALYZE invoices_invoice")


def time_bare(repeat: int) -> float:
    from django.db import connection

    times = []
    for _ in range(repeat):
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(BARE_SQL, [MONTH_START, MONTH_END])
            rows = cursor.fetchall()
            times.append(time.perf_counter() - started)
    print(f"  bare GROUP BY: {len(rows)} groups, best of {repeat}: {min(times):.2f} s "
          f"({all_times(times)})")
    return min(times)


def best_of(repeat: int, timed) -> tuple[float, object, list[float]]:
    """The fastest of ``repeat`` runs of ``timed()`` (seconds, run), with every time."""
    results = [timed() for _ in range(repeat)]
    seconds, run = min(results, key=lambda result: result[0])
    return seconds, run, [t for t, _ in results]


def time_inline(chunk: int) -> tuple[float, object]:
    from invoices.services import billing_run

    reset_invoices()
    started = time.perf_counter()
    run = billing_run(as_of=AS_OF, now=dt.datetime.now(dt.UTC), size=chunk)
    return time.perf_counter() - started, run


def _work(args) -> None:
    from invoices.services.billing_run import billing_run_chunk

    run_id, part = args
    billing_run_chunk(run_id=run_id, customer_ids=part, now=dt.datetime.now(dt.UTC))


def time_workers(workers: int, chunk: int) -> tuple[float, object]:
    from django.db import connections

    from invoices.models import BillingRun
    from invoices.services.billing_run import billing_run_start

    reset_invoices()
    started = time.perf_counter()
    run, parts = billing_run_start(as_of=AS_OF, now=dt.datetime.now(dt.UTC), size=chunk)
    connections.close_all()  # each forked worker opens its own connection
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pool.map(_work, [(run.pk, part) for part in parts], chunksize=1)
    elapsed = time.perf_counter() - started
    return elapsed, BillingRun.objects.get(pk=run.pk)


def build_rollups() -> None:
    from usage.rollups import rollup_usage

    started = time.perf_counter()
    groups = rollup_usage(now=dt.datetime.now(dt.UTC))
    print(f"  rollups: {groups} groups recomputed in {time.perf_counter() - started:.1f} s")


def summary(label: str, seconds: float, run, bare: float, times: list[float]) -> None:
    print(f"  {label}: {seconds:.2f} s, {run.invoices_created} invoices, "
          f"{len(run.failures)} failures, status {run.status}; "
          f"ratio to bare aggregation {seconds / bare:.2f}x ({all_times(times)})")


def main() -> None:
    args = parse_args()
    ensure_database(args.server, args.db)
    setup_django(f"{args.server}/{args.db}")
    if args.reload or not loaded(args.customers, args.events):
        load(args.customers, args.events)
    if args.rollups:
        build_rollups()
    from django.db.models import Sum

    from invoices.models import Invoice
    from usage.models import UsageRollup

    print(f"{args.customers} customers, {args.events} events, "
          f"{UsageRollup.objects.count()} rollup rows, {os.cpu_count()} CPUs, "
          f"load average {load_average()}")
    bare = time_bare(args.repeat)
    one, run, times = best_of(args.repeat, lambda: time_inline(args.chunk))
    summary("billing run, 1 worker ", one, run, bare, times)
    total = Invoice.objects.aggregate(total=Sum("total"))["total"]
    many, run, times = best_of(args.repeat, lambda: time_workers(args.workers, args.chunk))
    summary(f"billing run, {args.workers} workers", many, run, bare, times)
    assert Invoice.objects.aggregate(total=Sum("total"))["total"] == total
    print(f"  invoiced in total: {total:.2f} USD (same with {args.workers} workers)")
    print(f"  load average at the end {load_average()}")


if __name__ == "__main__":
    main()
