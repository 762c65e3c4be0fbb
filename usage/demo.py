"""Demo usage: current provider prices and a month of realistic events for the demo customers.

Called by ``manage.py load_demo`` (accounts/management/commands/load_demo.py). Idempotent:
prices are looked up by (provider, model, effective_from) and events carry deterministic
transaction_ids, so a second run stores nothing new.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone

from accounts.models import Customer, Seat
from plans.models import Contract
from usage.ingest import AI_CALL, MAX_EVENTS_PER_REQUEST, ingest_events
from usage.models import ModelPrice
from usage.pricing import model_price_create

# Public list prices (USD per 1M input / output tokens) as of 2025. They are an example to
# edit in the admin (Usage metering › Model prices), not a source of truth.
PRICES_FROM = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DEMO_PRICES = [
    ("openai", "gpt-4.1", "2.00", "8.00"),
    ("openai", "gpt-4.1-mini", "0.40", "1.60"),
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("anthropic", "claude-sonnet-4", "3.00", "15.00"),
    ("anthropic", "claude-haiku-3.5", "0.80", "4.00"),
]
# (model, provider, weight). The self-hosted model has no price on purpose: it shows up
# in the admin's "Unpriced models" list.
MODEL_MIX = [
    ("gpt-4.1-mini", "openai", 40), ("gpt-4o-mini", "openai", 20), ("gpt-4.1", "openai", 10),
    ("claude-sonnet-4", "anthropic", 15), ("claude-haiku-3.5", "anthropic", 13),
    ("llama-3.1-70b", "self-hosted", 2),
]
FEATURES = ["summarize", "draft-reply", "classify", "extract", "chat", "search"]
DAYS = 28


def load_usage_demo(*, today: dt.date, customers: dict[str, Customer] | None = None,
                    out: Any = None) -> Counter:
    """Prices, then events for ``DAYS`` days before ``today``; returns the rows created.

    Events are validated as if it were midnight of ``today`` (so an older ``--today`` still
    loads), but stamped ``received_at`` = now, which the rollup job relies on.
    """
    created: Counter = Counter()
    for provider, model, inp, outp in DEMO_PRICES:
        if not ModelPrice.objects.filter(provider=provider, model=model,
                                         effective_from=PRICES_FROM).exists():
            model_price_create(provider=provider, model=model, effective_from=PRICES_FROM,
                               input_per_million=inp, output_per_million=outp)
            created["model prices"] += 1
    pool = customers.values() if customers is not None else Customer.objects.all()
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    events = [e for c in sorted(pool, key=lambda c: c.external_id) if not c.archived
              for e in _customer_events(c, midnight)]
    for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
        result = ingest_events(events=events[start:start + MAX_EVENTS_PER_REQUEST],
                               now=midnight, received_at=timezone.now())
        created["usage events"] += result.accepted
        if result.rejected and out is not None:
            out.write(f"usage demo: {len(result.rejected)} events rejected: "
                      f"{result.rejected[:3]}")
    return +created  # drop zero counts: "nothing new" on a second run


def _seats(customer: Customer, midnight: dt.datetime) -> list[str]:
    start = midnight - dt.timedelta(days=DAYS)
    seats = Seat.objects.filter(customer=customer, active_from__lt=midnight).filter(
        Q(active_until__isnull=True) | Q(active_until__gt=start))
    return sorted(seats.values_list("email", flat=True))


def _token_heavy(customer: Customer) -> bool:
    """Customers whose plan prices AI calls get production-size token volumes."""
    return Contract.objects.filter(
        customer=customer, status=Contract.Status.ACTIVE,
        plan_version__charges__metric__event_type=AI_CALL).exists()


def _customer_events(customer: Customer, midnight: dt.datetime) -> Iterable[dict]:
    rng = random.Random(f"usage-demo:{customer.external_id}")  # same events on every run
    seats = _seats(customer, midnight) or [None]
    scale = 40 if _token_heavy(customer) else 1
    models, providers, weights = zip(*MODEL_MIX, strict=True)
    ext = customer.external_id
    for day_offset in range(DAYS, 0, -1):
        day = midnight - dt.timedelta(days=day_offset)
        weekend = day.weekday() >= 5
        calls = max(1, round(len(seats) * (0.1 if weekend else 0.35))) + rng.randint(0, 2)
        for n in range(calls):
            pick = rng.choices(range(len(models)), weights)[0]
            batch = rng.random() < 0.25
            initiated_by = rng.choices(["user", "agent", "schedule"], [60, 30, 10])[0]
            inp = int(rng.lognormvariate(7.3 if not batch else 8.9, 0.6) * scale)
            outp = int(rng.lognormvariate(5.9 if not batch else 7.2, 0.5) * scale)
            seat = rng.choice(seats) if initiated_by == "user" else None
            props = {"model": models[pick], "provider": providers[pick], "input_tokens": inp,
                     "output_tokens": outp, "total_tokens": inp + outp,
                     "latency_tier": "batch" if batch else "realtime",
                     "initiated_by": initiated_by, "feature": rng.choice(FEATURES)}
            if seat:
                props["seat"] = seat
            yield _event(ext, f"{day:%Y%m%d}-ai-{n}", AI_CALL, day, rng, props)
        for n in range(rng.randint(0, 1 if weekend else 4)):
            seat = rng.choice(seats)
            props = {"kind": rng.choice(["ticket", "report", "review"])}
            if seat:
                props["seat"] = seat
            yield _event(ext, f"{day:%Y%m%d}-task-{n}", "task.completed", day, rng, props)


def _event(ext: str, key: str, event_type: str, day: dt.datetime, rng: random.Random,
           properties: dict) -> dict:
    # Working hours, UTC: 07:00-19:59.
    at = day + dt.timedelta(hours=rng.randint(7, 19), minutes=rng.randint(0, 59),
                            seconds=rng.randint(0, 59))
    return {"transaction_id": f"demo-{ext}-{key}", "customer": ext, "event_type": event_type,
            "timestamp": at.isoformat().replace("+00:00", "Z"), "properties": properties}
