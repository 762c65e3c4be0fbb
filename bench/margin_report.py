"""Margin-report benchmark on PostgreSQL: the ops margin report for a book of 10,000
customers.

1. Creates a dedicated database (default ``billing_bench_margin`` on
   postgres://postgres@127.0.0.1:5432), migrates it and loads with COPY: 10,000 customers
   on the three plan kinds of ``bench/billing_run.py`` (seat, usage, hybrid), contracts
   from the first of last month, 1–8 seats each, and ``--events`` AI calls and tasks per
   customer and month over last month and this month so far, each AI call with a
   provider cost (a few percent of customers are heavy users who cost more than they pay).
2. Runs the rollup job (both periods rolled up) and a billing run, so last month has its
   invoices (drafts) and this month is open.
3. Times the report through Django's test client as a staff user, ``--requests`` times
   (after 2 warm-ups) for this month (revenue: the batched upcoming invoice of every
   customer) and for last month (revenue: its invoices), each computed in the request
   (``?refresh=1``; ``--cold-requests`` times for this month) and as kept in the cache
   (``invoices/ops/kept.py``), and the admin index with its dashboard; prints p50 / p95, the time of each read in process, the
   query count, and EXPLAIN (ANALYZE, BUFFERS) of the main statements.
4. Drops the database (``--keep`` leaves it for another run, which then skips loading).

    ./run bench margin_report
    ./run bench margin_report --customers 1000 --requests 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from billing_run import build_catalog, copy_rows, ensure_database  # noqa: E402
from harness import percentile  # noqa: E402

PLAN_KINDS = ("seat", "usage", "hybrid")
HEAVY_EVERY = 37
HOURS_PER_MONTH = 2  # one customer in 37 is a heavy user: it costs more than it pays


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20,
                        help="Events per customer and month (default 20).")
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--cold-requests", type=int, default=5,
                        help="Requests that recompute the open period's estimate.")
    parser.add_argument("--db", default="billing_bench_margin")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()
    if "bench" not in args.db:
        parser.error("the database name must contain 'bench' (it is dropped afterwards)")
    return args


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Its own var dir: a refresh queued on the filesystem broker stays out of the demo's.
    os.environ.setdefault("BILLING_VAR_DIR", str(Path(tempfile.gettempdir()) / "bench_margin"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drop_database(server: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped database {name}")


# --- Loading ------------------------------------------------------------------------------


def months(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    this = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = (this - dt.timedelta(days=1)).replace(day=1)
    return last, this


def load(customers: int, per_month: int, now: dt.datetime) -> None:
    from django.db import connection, transaction

    rng = random.Random(20261201)
    last, this = months(now)
    started = time.perf_counter()
    with transaction.atomic():
        versions = build_catalog()
        stamp = now.isoformat()
        copy_rows("accounts_customer",
                  ["external_id", "name", "email", "currency", "stripe_customer_id", "archived",
                   "created_at", "updated_at"],
                  (f"c{n:05d}\tCustomer {n}\tbilling@c{n:05d}.test\tUSD\t\tf\t{stamp}\t{stamp}\n"
                   for n in range(customers)))
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM accounts_customer ORDER BY external_id")
            ids = [row[0] for row in cursor.fetchall()]
        kinds = {cid: PLAN_KINDS[n % 3] for n, cid in enumerate(ids)}
        start = last.date().isoformat()
        # A few terms end within 30 days, for the renewals list.
        ends = {cid: (this + dt.timedelta(days=40)).date().isoformat() if n % 50 == 0 else "\\N"
                for n, cid in enumerate(ids)}
        copy_rows("plans_contract",
                  ["customer_id", "plan_version_id", "status", "start_date", "end_date",
                   "anchor_date", "auto_renew", "renewal", "committed_seats", "created_at",
                   "updated_at"],
                  (f"{cid}\t{versions[kinds[cid]]}\tactive\t{start}\t{ends[cid]}\t{start}\tt\t"
                   f"grandfather\t{2 if kinds[cid] != 'usage' else 0}\t{stamp}\t{stamp}\n"
                   for cid in ids))
        seats = {cid: [f"user{i}@c{cid}.test" for i in range(rng.randint(1, 8))] for cid in ids}
        copy_rows("accounts_seat", ["customer_id", "email", "name", "active_from",
                                    "active_until", "created_at", "updated_at"],
                  (f"{cid}\t{email}\t\t{(last - dt.timedelta(days=30)).isoformat()}\t\\N\t"
                   f"{stamp}\t{stamp}\n" for cid in ids for email in seats[cid]))

        def event_lines():
            tx = 0
            windows = [(last, this), (this, now - dt.timedelta(minutes=30))]
            for n, cid in enumerate(ids):
                heavy = n % HEAVY_EVERY == 0
                for lo, hi in windows:
                    # A customer's calls come in a few busy hours: the rollup job's cost is
                    # per (customer, hour, event type), and a realistic book has far
                    # fewer busy hours than events.
                    hours = max(1, int((hi - lo).total_seconds()) // 3600 - 1)
                    busy = [lo + dt.timedelta(hours=rng.randrange(hours))
                            for _ in range(HOURS_PER_MONTH)]
                    for _ in range(per_month):
                        tx += 1
                        when = busy[tx % len(busy)] + dt.timedelta(
                            seconds=rng.randrange(3600))
                        seat = seats[cid][tx % len(seats[cid])]
                        who = "agent" if tx % 3 else "user"
                        if kinds[cid] == "hybrid" and tx % 2:
                            props = json.dumps({"seat": seat, "initiated_by": who})
                            event_type, model, cost = "task.completed", "", "0"
                        else:
                            i, o = rng.randint(100, 4000), rng.randint(20, 1000)
                            model = ("gpt-4.1", "gpt-4.1-mini", "claude-sonnet")[tx % 3]
                            props = json.dumps({"model": model, "input_tokens": i,
                                                "output_tokens": o, "total_tokens": i + o,
                                                "latency_tier": "realtime", "seat": seat,
                                                "initiated_by": who})
                            event_type = "ai.call"
                            cost = f"{(i * 2 + o * 8) / 1e6 * (4000 if heavy else 1):.12f}"
                        received = (when + dt.timedelta(seconds=2)).isoformat()
                        yield (f"{cid}\t{tx:010d}\t{event_type}\t{when.isoformat()}\t{props}\t"
                               f"{model}\t{seat}\t{cost}\tf\t{received}\n")

        copy_rows("usage_event", ["customer_id", "transaction_id", "event_type", "timestamp",
                                  "properties", "model", "seat", "provider_cost", "unpriced",
                                  "received_at"], event_lines())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {customers} customers, {customers * per_month * 2} events in "
          f"{time.perf_counter() - started:.1f} s")


def prepare(now: dt.datetime) -> None:
    from django.db import connection

    from invoices.services import billing_run
    from usage.rollups import rollup_usage

    started = time.perf_counter()
    groups = rollup_usage(now=now)
    print(f"rollups: {groups} groups in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    run = billing_run(as_of=now, now=now)
    print(f"billing run: {run.invoices_created} invoices for last month in "
          f"{time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# --- Timing -------------------------------------------------------------------------------


def staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-ops", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    return client


def time_page(client, path: str, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for n in range(requests + 2):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code)
        assert b"ops-losing" in response.content, "no money-losing row on the page"
        if n >= 2:
            times.append(elapsed * 1000)
    return percentile(times, 0.5), percentile(times, 0.95), len(captured)


def time_reads(now: dt.datetime) -> None:
    from django.core.cache import cache

    from invoices.ops import reads
    from invoices.ops.margins import Month
    from usage.ops_reads import cost_by_customer

    month = Month.of(now.date())
    steps = {
        "estimated revenue (batched upcoming invoices)": lambda: reads.estimated_revenue(
            day=now.date()),
        "invoiced revenue (last month)": lambda: reads.invoiced_revenue(month.previous()),
        "provider cost by customer": lambda: cost_by_customer(start=month.start,
                                                              end=month.end),
        "cost by model": lambda: reads.cost_by_model(month),
        # The beat job that keeps both months warm, from an empty cache (both computed).
        "keep_margin_books (beat job), both months": lambda: (
            cache.clear(), reads.keep_margin_books(now=dt.datetime.now(dt.UTC))),
    }
    for label, step in steps.items():
        times = []
        for _ in range(3):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:<48} median {statistics.median(times):7.1f} ms")


def explain(now: dt.datetime) -> None:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from invoices.ops import reads
    from invoices.ops.margins import Month

    month = Month.of(now.date())
    # compute_book, not margin_report: a kept report would read nothing.
    with CaptureQueriesContext(connection) as captured:
        reads.compute_book(month=month.previous(), day=now.date())
    wanted = {
        "provider cost by customer (breakdown rollups + tail)": "usage_usagebreakdownday",
        "invoiced revenue by customer": '"invoices_invoice"."total" AS "total"',
    }
    for label, marker in wanted.items():
        statement = next((q["sql"] for q in captured.captured_queries
                          if marker in q["sql"] and not q["sql"].startswith("SELECT current")),
                         None)
        if statement is None:
            print(f"\n(no statement for {label})")
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        print(f"\nEXPLAIN (ANALYZE, BUFFERS): {label}\n{plan}")


def main() -> None:
    args = parse_args()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if now.day == 1 and now.hour < 2:
        print("note: the first hours of a month have almost no usage in the open period")
    ensure_database(args.server, args.db)
    setup_django(f"{args.server}/{args.db}")
    try:
        from accounts.models import Customer

        if Customer.objects.count() != args.customers:
            load(args.customers, args.events, now)
            prepare(now)
        from invoices.ops.margins import Month

        month = Month.of(now.date())
        client = staff_client()
        print(f"{args.customers} customers, {os.cpu_count()} CPUs, load average "
              + " ".join(f"{n:.2f}" for n in os.getloadavg()))
        last = month.previous()
        for label, path, requests in (
            (f"margin report, {month} (open), computed in the request",
             "/admin/ops/margins/?refresh=1", args.cold_requests),
            (f"margin report, {month} (open), kept", "/admin/ops/margins/", args.requests),
            (f"margin report, {last} (invoiced), computed in the request",
             f"/admin/ops/margins/?month={last}&refresh=1", args.requests),
            (f"margin report, {last} (invoiced), kept", f"/admin/ops/margins/?month={last}",
             args.requests),
            ("admin index (dashboard), kept", "/admin/", args.requests),
        ):
            if path == "/admin/":
                p50, p95, queries = time_index(client, requests)
            else:
                p50, p95, queries = time_page(client, path, requests)
            print(f"  {label:<52} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
                  f"{queries} queries   ({requests} requests)")
        print("in process, each read alone:")
        time_reads(now)
        explain(now)
        print("load average at the end " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    finally:
        if not args.keep:
            drop_database(args.server, args.db)


def time_index(client, requests: int) -> tuple[float, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times = []
    for n in range(requests + 2):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get("/admin/")
            elapsed = time.perf_counter() - started
        assert response.status_code == 200 and b"ops-dashboard" in response.content
        if n >= 2:
            times.append(elapsed * 1000)
    return percentile(times, 0.5), percentile(times, 0.95), len(captured)


if __name__ == "__main__":
    main()
