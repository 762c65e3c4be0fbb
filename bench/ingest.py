"""Ingest benchmark: POST /api/v1/events through gunicorn versus a bare COPY of the same rows.

    .venv/bin/python bench/ingest.py --events 500000

1. Creates (if missing) and migrates a PostgreSQL database (default
   postgres://postgres@127.0.0.1:5432/billing_bench), adds customers, metrics, provider
   prices and an ingest key, and empties usage_event.
2. Starts gunicorn (2 workers, production settings: DEBUG off, a random SECRET_KEY) on
   127.0.0.1 at a free port.
3. Sends the events in batches of 1,000 over several keep-alive connections (bodies are
   serialised before the clock starts) and reports events/s.
4. Reads the stored rows back, truncates the table and COPYs the same rows in with psycopg:
   the ceiling for this table and its indexes. Prints both rates and their ratio.
5. Sends single-event requests open-loop at --rate per second for --duration seconds and
   prints p50/p99 latency, measured from each request's scheduled send time.

Everything is bounded (event count, durations, timeouts) and talks only to 127.0.0.1.
It only ever truncates a database whose name contains "bench".
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from harness import free_port, percentile, start_gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
MAX_EVENTS = 5_000_000
CUSTOMERS = 50
MODELS = [("gpt-4.1-mini", "openai"), ("gpt-4o-mini", "openai"), ("gpt-4.1", "openai"),
          ("claude-sonnet-4", "anthropic"), ("claude-haiku-3.5", "anthropic"),
          ("llama-3.1-70b", None)]  # the last one has no price: exercised as unpriced
COLUMNS = ('"customer_id", "transaction_id", "event_type", "timestamp", "properties", '
           '"model", "seat", "provider_cost", "unpriced", "received_at"')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per gunicorn worker (>1 uses the gthread worker)")
    parser.add_argument("--rate", type=int, default=200, help="single events per second")
    parser.add_argument("--duration", type=float, default=10.0, help="latency phase seconds")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_bench"))
    args = parser.parse_args()
    if not 1 <= args.events <= MAX_EVENTS:
        parser.error(f"--events must be 1..{MAX_EVENTS:,}")
    if not 1 <= args.batch <= 1000:
        parser.error("--batch must be 1..1000")
    if not 0 < args.duration <= 60 or not 0 < args.rate <= 2000:
        parser.error("--duration must be in (0, 60] and --rate in (0, 2000]")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database name must contain 'bench' (this script truncates tables)")
    return args


# ---------------------------------------------------------------------------- setup

def create_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres", scheme="postgresql").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_data(customers: int) -> tuple[str, list[str]]:
    """Customers, metrics, prices and an ingest key; returns (raw key, external ids)."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import ApiKey, Customer
    from accounts.services import api_key_create, customer_create
    from plans.models import Metric
    from plans.services import metric_create
    from usage.models import ModelPrice
    from usage.pricing import model_price_create

    call_command("migrate", verbosity=0)
    ids = [f"bench-{n:03d}" for n in range(customers)]
    existing = set(Customer.objects.filter(external_id__in=ids).values_list("external_id", flat=True))
    for ext in ids:
        if ext not in existing:
            customer_create(external_id=ext, name=f"Bench {ext}", email=f"billing@{ext}.test")
    for code, event_type, aggregation, field in [
        ("bench_tokens", "ai.call", "sum", "total_tokens"),
        ("bench_calls", "ai.call", "count", ""),
        ("bench_tasks", "task.completed", "count", ""),
        ("bench_pages", "doc.processed", "max", "pages"),
    ]:
        if not Metric.objects.filter(code=code).exists():
            metric_create(code=code, name=code, event_type=event_type, aggregation=aggregation,
                          field=field)
    since = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for (model, provider), (inp, out) in zip(MODELS[:5], [("0.40", "1.60"), ("0.15", "0.60"),
                                                          ("2", "8"), ("3", "15"), ("0.8", "4")],
                                             strict=True):
        if not ModelPrice.objects.filter(provider=provider, model=model).exists():
            model_price_create(provider=provider, model=model, effective_from=since,
                               input_per_million=inp, output_per_million=out)
    ApiKey.objects.filter(name="bench ingest").delete()
    _, raw_key = api_key_create(name="bench ingest", scope=ApiKey.Scope.INGEST)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE usage_event")
    connection.close()
    return raw_key, ids


def make_event(rng: random.Random, tid: str, customer: str, now: dt.datetime) -> dict:
    at = now - dt.timedelta(seconds=rng.randint(60, 30 * 86400))
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    roll = rng.random()
    seat = f"user{rng.randint(1, 20)}@{customer}.test"
    if roll < 0.6:
        model, provider = rng.choice(MODELS[:-1]) if rng.random() < 0.98 else MODELS[-1]
        inp, out = rng.randint(100, 8000), rng.randint(20, 2000)
        props = {"model": model, "input_tokens": inp, "output_tokens": out,
                 "total_tokens": inp + out,
                 "latency_tier": "realtime" if rng.random() < 0.7 else "batch",
                 "seat": seat, "initiated_by": rng.choice(["user", "agent", "schedule"])}
        if provider:
            props["provider"] = provider
        return {"transaction_id": tid, "customer": customer, "event_type": "ai.call",
                "timestamp": stamp, "properties": props}
    if roll < 0.9:
        return {"transaction_id": tid, "customer": customer, "event_type": "task.completed",
                "timestamp": stamp, "properties": {"seat": seat, "kind": "ticket"}}
    return {"transaction_id": tid, "customer": customer, "event_type": "doc.processed",
            "timestamp": stamp, "properties": {"pages": rng.randint(1, 40), "seat": seat}}


def make_bodies(total: int, batch: int, customers: list[str], run: str) -> list[bytes]:
    rng = random.Random(42)
    now = dt.datetime.now(dt.UTC)
    bodies = []
    for start in range(0, total, batch):
        events = [make_event(rng, f"{run}-{n}", rng.choice(customers), now)
                  for n in range(start, min(total, start + batch))]
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


# ---------------------------------------------------------------------------- server

class Client:
    """One keep-alive connection (re-opened when the server closes it)."""

    def __init__(self, port: int, key: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def post(self, body: bytes) -> dict:
        self.conn.request("POST", "/api/v1/events", body=body, headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
        return json.loads(payload)


def send_batches(port: int, key: str, bodies: list[bytes], clients: int) -> tuple[float, dict]:
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
    lock = threading.Lock()
    queue = list(reversed(bodies))

    def work():
        client = Client(port, key)
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            answer = client.post(body)
            with lock:
                totals["accepted"] += answer["accepted"]
                totals["duplicates"] += answer["duplicates"]
                totals["rejected"] += len(answer["rejected"])

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, totals


def bare_copy(url: str) -> tuple[float, int]:
    dsn = urlsplit(url)._replace(scheme="postgresql").geturl()
    with psycopg.connect(dsn) as conn:
        buffer = bytearray()
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY (SELECT {COLUMNS} FROM usage_event) TO STDOUT") as copy:
                for chunk in copy:
                    buffer += chunk
            rows = buffer.count(b"\n")
            cursor.execute("TRUNCATE usage_event")
        conn.commit()
        conn.execute("CHECKPOINT")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            with cursor.copy(f"COPY usage_event ({COLUMNS}) FROM STDIN") as copy:
                view = memoryview(buffer)
                for offset in range(0, len(view), 1 << 20):
                    copy.write(view[offset:offset + (1 << 20)])
        conn.commit()
        return time.perf_counter() - started, rows


def latency_run(port: int, key: str, customers: list[str], rate: int,
                duration: float) -> tuple[list[float], int]:
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    total = int(rate * duration)
    run = f"lat{int(time.time())}"
    bodies = [json.dumps(make_event(rng, f"{run}-{n}", rng.choice(customers), now)).encode()
              for n in range(total)]
    local = threading.local()
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def fire(body: bytes, scheduled: float):
        nonlocal failures
        if not hasattr(local, "client"):
            local.client = Client(port, key)
        try:
            ok = local.client.post(body)["accepted"] == 1
        except (OSError, http.client.HTTPException, RuntimeError):
            local.client = Client(port, key)
            ok = False
        elapsed = time.perf_counter() - scheduled  # includes any wait behind the schedule
        with lock:
            latencies.append(elapsed)
            failures += not ok

    with ThreadPoolExecutor(max_workers=64) as pool:
        start = time.perf_counter() + 0.2
        for n, body in enumerate(bodies):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(fire, body, scheduled)
    return latencies, failures


def main() -> None:
    args = parse_args()
    env = {"DATABASE_URL": args.database_url, "DJANGO_DEBUG": "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "LOG_LEVEL": "WARNING",
           "DATABASE_CONN_MAX_AGE": "600",
           "BILLING_VAR_DIR": tempfile.mkdtemp(prefix="billing-bench-")}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs; other processes on this machine skew the figures)")
    create_database(args.database_url)
    setup_django(env)
    key, customers = prepare_data(CUSTOMERS)
    print(f"preparing {args.events:,} events in batches of {args.batch:,} …", flush=True)
    bodies = make_bodies(args.events, args.batch, customers, run=f"r{int(time.time())}")
    size = sum(map(len, bodies))
    print(f"{len(bodies):,} bodies, {size / len(bodies) / 1024:.0f} KiB each on average")

    port = free_port()
    log = Path(env["BILLING_VAR_DIR"]) / "gunicorn.log"
    server = start_gunicorn(env, port, log, workers=args.workers, threads=args.threads,
                            probe="/api/v1/events")
    try:
        with psycopg.connect(urlsplit(args.database_url)._replace(scheme="postgresql").geturl(),
                             autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        elapsed, totals = send_batches(port, key, bodies, args.clients)
        http_rate = totals["accepted"] / elapsed
        print(f"HTTP:     {totals['accepted']:,} accepted, {totals['duplicates']:,} duplicates, "
              f"{totals['rejected']:,} rejected in {elapsed:.1f} s "
              f"({args.workers} workers × {args.threads} threads, {args.clients} clients)")
        copy_elapsed, rows = bare_copy(args.database_url)
        copy_rate = rows / copy_elapsed
        print(f"bare COPY: {rows:,} rows in {copy_elapsed:.1f} s")
        print(f"events/s via HTTP:  {http_rate:,.0f}")
        print(f"events/s bare COPY: {copy_rate:,.0f}")
        print(f"ratio HTTP / COPY:  {http_rate / copy_rate:.2f}")

        latencies, failures = latency_run(port, key, customers, args.rate, args.duration)
        ms = [v * 1000 for v in latencies]
        print(f"single events at {args.rate}/s for {args.duration:.0f} s: {len(ms):,} requests, "
              f"{failures} failed; p50 {percentile(ms, 0.50):.1f} ms, "
              f"p99 {percentile(ms, 0.99):.1f} ms, mean {statistics.fmean(ms):.1f} ms")
    finally:
        stop(server)
    shutil.rmtree(env["BILLING_VAR_DIR"], ignore_errors=True)  # kept when something failed
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
