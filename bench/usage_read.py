"""Usage-read benchmark: one customer with a million events, read through gunicorn.

    .venv/bin/python bench/usage_read.py                       # 1,000,000 + 200,000 events
    .venv/bin/python bench/usage_read.py --events 50000 --backfill 10000 --requests 10

1. (Re)creates a PostgreSQL database (default billing_bench_read on
   postgres://postgres@127.0.0.1:5432; the name must contain "bench", it is dropped) and
   migrates it. Adds metrics, a hybrid plan (seats with tasks included per seat, realtime
   tokens in graduated tiers), one customer with 20 seats, a contract whose current
   period started 27 days ago, a CustomerUser login, an admin and an ingest key.
2. Starts gunicorn (production settings, 2 workers x 4 threads) on 127.0.0.1 and sends
   --events events with timestamps in the current period through POST /api/v1/events in
   batches of 1,000 (4 connections). ANALYZE (as autovacuum would after such a load),
   then waits until the last event is a rollup margin old and runs the rollup job as
   beat would (``usage.tasks.rollup_usage``), then ANALYZE of the rollup tables: the
   steady state.
3. Prints p50/p95 over --requests sequential requests (after 2 warm-ups) of the customer
   landing page ``/`` (logged in through /accounts/login/), ``GET /api/v1/customers/{id}/
   upcoming-invoice`` and ``GET /api/v1/customers/{id}/usage?start=&end=`` (the period
   so far), and checks the usage totals against a bare SQL aggregation.
4. Sends --backfill more events with timestamps in the same period (their hours' rollups
   are now stale) and prints the same figures at once, before any rollup run.

--margin sets USAGE_ROLLUP_MARGIN_SECONDS for the server and the rollup (default 60 s;
production's 600 s only makes step 2 wait longer: reads cost the same either way).
Everything talks only to 127.0.0.1 and is bounded by the sizes given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psycopg
from harness import free_port, load_average, percentile, start_gunicorn, stop

ROOT = Path(__file__).resolve().parent.parent
MAX_EVENTS = 5_000_000
BATCH = 1000
SEATS = 20
CUSTOMER = "bench-read"
USERNAME, PASSWORD = "bench-reader", secrets.token_urlsafe(16)
MODELS = [("gpt-4.1-mini", "openai"), ("gpt-4o-mini", "openai"), ("gpt-4.1", "openai"),
          ("claude-sonnet-4", "anthropic"), ("claude-haiku-3.5", "anthropic")]
PRICES = [("0.40", "1.60"), ("0.15", "0.60"), ("2", "8"), ("3", "15"), ("0.8", "4")]
WARMUP = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backfill", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=25, help="timed requests per read")
    parser.add_argument("--clients", type=int, default=4, help="connections sending events")
    parser.add_argument("--margin", type=int, default=60, help="rollup safety margin, seconds")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billing_bench_read"))
    args = parser.parse_args()
    if not 1 <= args.events <= MAX_EVENTS or not 0 <= args.backfill <= MAX_EVENTS:
        parser.error(f"--events must be 1..{MAX_EVENTS:,} and --backfill 0..{MAX_EVENTS:,}")
    if not 1 <= args.requests <= 1000 or not 1 <= args.clients <= 16:
        parser.error("--requests must be 1..1000 and --clients 1..16")
    if not 1 <= args.margin <= 3600:
        parser.error("--margin must be 1..3600 seconds")
    if "bench" not in urlsplit(args.database_url).path:
        parser.error("the database name must contain 'bench' (this script drops it)")
    return args


# ---------------------------------------------------------------------------- setup

def recreate_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres", scheme="postgresql").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    print(f"created database {name}")


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare(today: dt.date) -> dict:
    """The catalog, the customer and the keys; returns what the clients need."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from accounts.models import ApiKey
    from accounts.services import api_key_create, customer_create, customer_user_create, seat_create
    from plans.services import (
        contract_create,
        metric_create,
        plan_create,
        plan_version_create,
        plan_version_publish,
    )
    from usage.pricing import model_price_create

    call_command("migrate", verbosity=0)
    start = today - dt.timedelta(days=27)
    since = dt.datetime.combine(start - dt.timedelta(days=30), dt.time(), tzinfo=dt.UTC)
    for (model, provider), (inp, out) in zip(MODELS, PRICES, strict=True):
        model_price_create(provider=provider, model=model, effective_from=since,
                           input_per_million=inp, output_per_million=out)
    metric_create(code="tasks", name="Tasks completed", event_type="task.completed",
                  aggregation="count")
    metric_create(code="tokens", name="Tokens", event_type="ai.call", aggregation="sum",
                  field="total_tokens")
    metric_create(code="tokens_rt", name="Realtime tokens", event_type="ai.call",
                  aggregation="sum", field="total_tokens", filters={"latency_tier": "realtime"})
    metric_create(code="active_seats", name="Active seats", event_type="ai.call",
                  aggregation="unique_count", field="seat")
    plan = plan_create(code="team", name="Team")
    version = plan_version_create(
        plan=plan, effective_from=since.date(), seat_price="40.00", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.05",
             "included_per_seat": 1000},
            {"metric": "tokens_rt", "model": "graduated", "included_units": 0, "tiers": [
                {"up_to": 10_000_000, "unit_price": "0.000002", "flat_fee": "0"},
                {"up_to": None, "unit_price": "0.000001", "flat_fee": "0"}]},
        ])
    version = plan_version_publish(version=version, now=timezone.now())
    customer = customer_create(external_id=CUSTOMER, name="Bench Reader Inc.",
                               email="billing@bench-read.test")
    period_start = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    seats = [f"user{n}@bench-read.test" for n in range(SEATS)]
    for email in seats:
        seat_create(customer=customer, email=email, active_from=period_start)
    contract_create(customer=customer, plan_version=version, start_date=start,
                    committed_seats=5)
    customer_user_create(customer=customer, username=USERNAME, password=PASSWORD)
    _, admin_key = api_key_create(name="bench read admin", scope=ApiKey.Scope.ADMIN)
    _, ingest_key = api_key_create(name="bench read ingest", scope=ApiKey.Scope.INGEST)
    connection.close()
    return {"admin": admin_key, "ingest": ingest_key, "period_start": period_start,
            "seats": seats}


def make_body(batch: int, count: int, run: str, seats: list[str], lo: dt.datetime,
              hi: dt.datetime) -> bytes:
    """One batch of events with timestamps in [lo, hi), the same for the same arguments."""
    rng = random.Random(f"{run}-{batch}")
    span = int((hi - lo).total_seconds())
    events = []
    for n in range(count):
        stamp = (lo + dt.timedelta(seconds=rng.randrange(span))).strftime("%Y-%m-%dT%H:%M:%SZ")
        seat = rng.choice(seats)
        if rng.random() < 0.6:
            model, provider = rng.choice(MODELS)
            inp, out = rng.randint(100, 8000), rng.randint(20, 2000)
            props = {"model": model, "provider": provider, "input_tokens": inp,
                     "output_tokens": out, "total_tokens": inp + out,
                     "latency_tier": "realtime" if rng.random() < 0.7 else "batch",
                     "seat": seat, "initiated_by": rng.choice(["user", "agent", "schedule"])}
            event_type = "ai.call"
        else:
            props, event_type = {"seat": seat, "kind": "ticket"}, "task.completed"
        events.append({"transaction_id": f"{run}-{batch}-{n}", "customer": CUSTOMER,
                       "event_type": event_type, "timestamp": stamp, "properties": props})
    return json.dumps({"events": events}).encode()


# ---------------------------------------------------------------------------- server

class Client:
    """One keep-alive connection (re-opened when the server closes it)."""

    def __init__(self, port: int, headers: dict[str, str] | None = None):
        self.port = port
        self.headers = headers or {}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers={**self.headers,
                                                                     **(headers or {})})
                response = self.conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def send_events(port: int, key: str, *, total: int, run: str, seats: list[str],
                lo: dt.datetime, hi: dt.datetime, clients: int) -> float:
    batches = list(range((total + BATCH - 1) // BATCH))
    lock = threading.Lock()
    accepted, errors = [0], []

    def work():
        client = Client(port, {"Authorization": f"Bearer {key}",
                               "Content-Type": "application/json"})
        while True:
            with lock:
                if not batches or errors:
                    return
                batch = batches.pop()
            count = min(BATCH, total - batch * BATCH)
            status, _, payload = client.request(
                "POST", "/api/v1/events", make_body(batch, count, run, seats, lo, hi))
            with lock:
                if status != 200:
                    errors.append(f"HTTP {status}: {payload[:300]!r}")
                else:
                    accepted[0] += json.loads(payload)["accepted"]

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"ingest failed: {errors[0]}")
    if accepted[0] != total:
        raise SystemExit(f"ingest accepted {accepted[0]:,} of {total:,} events")
    print(f"  sent {total:,} events over HTTP in {elapsed:.0f} s ({total / elapsed:,.0f}/s)",
          flush=True)
    return elapsed


def login(port: int) -> Client:
    client = Client(port)
    status, headers, page = client.request("GET", "/accounts/login/")
    cookie = re.search(r"csrftoken=([^;]+)", headers.get("Set-Cookie", ""))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or not cookie or not token:
        raise SystemExit(f"login page: HTTP {status}, no CSRF token")
    form = urlencode({"username": USERNAME, "password": PASSWORD,
                      "csrfmiddlewaretoken": token.group(1).decode(), "next": "/"}).encode()
    status, headers, _ = client.request(
        "POST", "/accounts/login/", form,
        {"Content-Type": "application/x-www-form-urlencoded",
         "Cookie": f"csrftoken={cookie.group(1)}"})
    session = re.search(r"sessionid=([^;]+)", headers.get("Set-Cookie", ""))
    if status != 302 or not session:
        raise SystemExit(f"login failed: HTTP {status}")
    client.headers = {"Cookie": f"sessionid={session.group(1)}"}
    return client


# ---------------------------------------------------------------------------- timing

def timed(client: Client, path: str, requests: int, check) -> list[float]:
    times = []
    for n in range(WARMUP + requests):
        started = time.perf_counter()
        status, _, body = client.request("GET", path)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {body[:300]!r}")
        check(body)
        if n >= WARMUP:
            times.append(elapsed * 1000)
    return times


def measure_reads(port: int, keys: dict, start: dt.datetime, requests: int,
                  label: str) -> dict[str, tuple[float, float]]:
    api = Client(port, {"Authorization": f"Bearer {keys['admin']}"})
    page = login(port)
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    usage_path = f"/api/v1/customers/{CUSTOMER}/usage?" + urlencode(
        {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")})
    seen: dict[str, dict] = {}

    def keep_usage(body: bytes) -> None:
        seen["usage"] = json.loads(body)

    def is_page(body: bytes) -> None:
        if b"Bench Reader Inc." not in body:
            raise SystemExit("the landing page does not show the customer")

    reads = {
        "landing page /": (page, "/", is_page),
        "GET upcoming-invoice": (api, f"/api/v1/customers/{CUSTOMER}/upcoming-invoice",
                                 lambda body: json.loads(body)["total"]),
        "GET usage?start=&end=": (api, usage_path, keep_usage),
    }
    figures = {}
    print(f"{label}: {requests} requests each after {WARMUP} warm-ups, "
          f"load average {load_average()}", flush=True)
    for name, (client, path, check) in reads.items():
        times = timed(client, path, requests, check)
        figures[name] = (percentile(times, 0.50), percentile(times, 0.95))
        print(f"  {name:<24} p50 {figures[name][0]:8.1f} ms   p95 {figures[name][1]:8.1f} ms",
              flush=True)
    check_totals(seen["usage"], start, end)
    return figures


def check_totals(body: dict, start: dt.datetime, end: dt.datetime) -> None:
    """The API's totals against aggregating the raw events in SQL (metrics of this bench)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FILTER (WHERE event_type = 'task.completed'),
                      sum((properties->>'total_tokens')::numeric) FILTER (WHERE event_type = 'ai.call'),
                      sum((properties->>'total_tokens')::numeric) FILTER (
                          WHERE event_type = 'ai.call' AND properties @> '{"latency_tier": "realtime"}'),
                      count(DISTINCT properties->'seat') FILTER (WHERE event_type = 'ai.call')
               FROM usage_event e JOIN accounts_customer c ON c.id = e.customer_id
               WHERE c.external_id = %s AND timestamp >= %s AND timestamp < %s""",
            [CUSTOMER, start, end])
        raw = dict(zip(("tasks", "tokens", "tokens_rt", "active_seats"), cursor.fetchone(),
                       strict=True))
    got = {m["code"]: m["value"] for m in body["metrics"]}
    wrong = {code: (got.get(code), str(value)) for code, value in raw.items()
             if str(value or 0) != got.get(code)}
    print("  usage totals equal a bare aggregation of the raw events: "
          + ("yes" if not wrong else f"NO {wrong}"), flush=True)


def bare_group_by() -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute("SELECT event_type, count(*) FROM usage_event GROUP BY event_type")
        cursor.fetchall()
        return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    env = {"DATABASE_URL": args.database_url, "DJANGO_DEBUG": "0",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "LOG_LEVEL": "WARNING",
           "DATABASE_CONN_MAX_AGE": "600", "USAGE_ROLLUP_MARGIN_SECONDS": str(args.margin),
           "BILLING_VAR_DIR": tempfile.mkdtemp(prefix="billing-bench-read-")}
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (other processes on this machine "
          f"skew the figures); rollup margin {args.margin} s", flush=True)
    recreate_database(args.database_url)
    setup_django(env)
    from django.db import connection

    from usage.tasks import rollup_usage

    today = dt.datetime.now(dt.UTC).date()
    keys = prepare(today)
    start = keys["period_start"]
    port = free_port()
    log = Path(env["BILLING_VAR_DIR"]) / "gunicorn.log"
    server = start_gunicorn(env, port, log, timeout=120)
    try:
        lo, hi = start, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        send_events(port, keys["ingest"], total=args.events, run="load", seats=keys["seats"],
                    lo=lo, hi=hi, clients=args.clients)
        loaded_at = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        wait = args.margin + 1 - (time.monotonic() - loaded_at)
        if wait > 0:
            print(f"  waiting {wait:.0f} s for the last events to pass the rollup margin",
                  flush=True)
            time.sleep(wait)
        started = time.perf_counter()
        groups = rollup_usage()  # the beat task, run in this process
        print(f"  rollup job: {groups:,} groups in {time.perf_counter() - started:.1f} s; "
              f"bare GROUP BY event_type over the whole table: {bare_group_by() * 1000:.0f} ms",
              flush=True)
        with connection.cursor() as cursor:
            # The rollup tables were empty at the ANALYZE above; autovacuum analyzes them
            # within a minute of such a change.
            cursor.execute("ANALYZE usage_usagerollup, usage_usagebreakdown")
        connection.close()
        steady = measure_reads(port, keys, start, args.requests,
                               f"steady state ({args.events:,} events, rollups caught up)")
        after = {}
        if args.backfill:
            send_events(port, keys["ingest"], total=args.backfill, run="backfill",
                        seats=keys["seats"], lo=lo, hi=hi, clients=args.clients)
            after = measure_reads(port, keys, start, args.requests,
                                  f"right after a backfill of {args.backfill:,} events "
                                  "(no rollup run since)")
        connection.close()
    finally:
        stop(server)
    print("summary (p50 / p95 ms): " + "; ".join(
        f"{name}: {s[0]:.0f} / {s[1]:.0f}"
        + (f" steady, {after[name][0]:.0f} / {after[name][1]:.0f} after backfill" if after else "")
        for name, s in steady.items()))
    shutil.rmtree(env["BILLING_VAR_DIR"], ignore_errors=True)  # kept when something failed


if __name__ == "__main__":
    main()
