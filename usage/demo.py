"""Demo usage: current provider prices and realistic events for the demo customers, from a
few periods back up to now, rolled up as the beat job would.

Called by ``manage.py load_demo`` (billing_site/management/commands/load_demo.py), which
describes each customer's habits with a :class:`UsageProfile`. Idempotent: prices are
looked up by (provider, model, effective_from) and events carry deterministic
transaction_ids, so a second run stores nothing new.

Deterministic: each customer-day's events come from a generator seeded by the customer's
external_id and the date (not by the load's ``today``), so a day's events are the same
whichever day the demo is loaded on, and a later load only adds the days since.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, Seat
from plans.models import Contract
from plans.periods import add_months, at_midnight, period_index_containing
from plans.selectors import contract_period_containing
from usage.ingest import AI_CALL, MAX_EVENTS_PER_REQUEST, ingest_events
from usage.models import ModelPrice
from usage.pricing import model_price_create
from usage.rollups import _lock_watermark, rollup_usage

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
# (model, provider, weight). A profile's ``frontier`` share of calls goes to the first
# list, the rest to the second. The self-hosted model has no price on purpose: it shows up
# in the admin's "Unpriced models" list.
FRONTIER_MODELS = [("claude-sonnet-4", "anthropic", 60), ("gpt-4.1", "openai", 40)]
EVERYDAY_MODELS = [
    ("gpt-4.1-mini", "openai", 45), ("gpt-4o-mini", "openai", 25),
    ("claude-haiku-3.5", "anthropic", 27), ("llama-3.1-70b", "self-hosted", 3),
]
FEATURES = ["summarize", "draft-reply", "classify", "extract", "chat", "search"]
TASK_KINDS = ["ticket", "report", "review"]
ONE_DAY = dt.timedelta(days=1)
# Weekdays carry most of the work; the factors average to 1 over a week, so a profile's
# monthly figures hold for any month.
WEEKDAY, WEEKEND = 1.25, 0.375
GROWTH = 1.5
# A batch's events span at most this (well inside USAGE_BACKFILL_DAYS).
BATCH_SPAN = dt.timedelta(days=20)
# An event reaches the API this long after it happened (the demo's received_at).
ARRIVAL_LAG = dt.timedelta(seconds=90)


@dataclass(frozen=True)
class UsageProfile:
    """How one customer uses the product. Monthly figures are per active seat: a seat's
    share follows its own weight (a few heavy users, many light ones)."""

    tasks: float = 20  # task.completed events per seat per month
    calls: float = 10  # ai.call events per seat per month
    tokens: float = 1  # scale of each call's tokens (1: a short chat turn)
    frontier: float = 0.25  # share of calls on the priciest models
    agents: float = 0.35  # share of calls an agent or a schedule starts
    periods: int = 1  # history: events from this many contract periods before the current
    spread: float = 0.6  # sigma of each seat's lognormal weight: the heavy tail per seat
    # Adoption: the contract's period (0: its first) from which usage is at full volume;
    # each period before it has 1 / GROWTH of the next one's.
    ramp: int = 0


DEFAULT_PROFILE = UsageProfile()


@transaction.atomic
def load_usage_demo(*, today: dt.date, customers: dict[str, Customer] | None = None,
                    profiles: Mapping[str, UsageProfile] | None = None,
                    out: Any = None) -> Counter:
    """Prices, then each active customer's events from its history start up to now, then a
    rollup run; returns the rows created.

    "Now" is the clock, or the end of ``today`` when ``--today`` is in the past. Events are
    validated as if they arrived when they happened (each batch against its latest event,
    so months of history pass the backfill window) and stamped received shortly after
    that, never before the rollup watermark (the job would skip them) nor after the clock.
    The watermark stays locked until the load commits, so a rollup run at the same time
    waits for these events instead of moving past them.
    """
    created: Counter = Counter()
    for provider, model, inp, outp in DEMO_PRICES:
        if not ModelPrice.objects.filter(provider=provider, model=model,
                                         effective_from=PRICES_FROM).exists():
            model_price_create(provider=provider, model=model, effective_from=PRICES_FROM,
                               input_per_million=inp, output_per_million=outp)
            created["model prices"] += 1
    clock = timezone.now()
    now = min(clock, at_midnight(today + ONE_DAY))
    floor = _lock_watermark().received_until
    pool = customers.values() if customers is not None else Customer.objects.all()
    profiles = profiles or {}
    events = sorted(
        (e for c in sorted(pool, key=lambda c: c.external_id) if not c.archived
         for e in _customer_events(c, profiles.get(c.external_id, DEFAULT_PROFILE),
                                   today=today, now=now)),
        key=lambda e: e["timestamp"],
    )
    for batch in _batches(events):
        latest = dt.datetime.fromisoformat(batch[-1]["timestamp"])
        received_at = min(max(latest + ARRIVAL_LAG, floor), clock)
        result = ingest_events(events=batch, now=latest, received_at=received_at)
        created["usage events"] += result.accepted
        if result.rejected and out is not None:
            out.write(f"usage demo: {len(result.rejected)} events rejected: "
                      f"{result.rejected[:3]}")
    rollup_usage(now=clock)
    return +created  # drop zero counts: "nothing new" on a second run


def _batches(events: list[dict]) -> Iterable[list[dict]]:
    """API-size batches of time-ordered events, each inside one backfill window."""
    batch: list[dict] = []
    for event in events:
        if batch and (len(batch) == MAX_EVENTS_PER_REQUEST
                      or event["timestamp"] >= _later(batch[0]["timestamp"], BATCH_SPAN)):
            yield batch
            batch = []
        batch.append(event)
    if batch:
        yield batch


def _later(timestamp: str, delta: dt.timedelta) -> str:
    return (dt.datetime.fromisoformat(timestamp) + delta).isoformat().replace("+00:00", "Z")


class _Calendar:
    """Where the history starts (the contract period ``profile.periods`` before the current
    one) and each day's adoption factor (from the contract's start, not from ``today``, so
    a day's volume does not depend on when the demo is loaded)."""

    def __init__(self, customer: Customer, profile: UsageProfile, today: dt.date):
        self.profile = profile
        self.contract = (Contract.objects.filter(customer=customer, status=Contract.Status.ACTIVE)
                         .select_related("plan_version").order_by("-start_date").first())
        if self.contract is None:
            self.start = at_midnight(add_months(today, -profile.periods))
            return
        period = contract_period_containing(contract=self.contract, day=today)
        for _ in range(profile.periods):
            period = contract_period_containing(contract=self.contract,
                                                day=period.start - ONE_DAY)
        self.start = period.start_at
        self.first = self._index(self.contract.start_date)

    def _index(self, day: dt.date) -> int:
        return period_index_containing(self.contract.anchor_date,
                                       self.contract.plan_version.billing_interval, day)

    def adoption(self, day: dt.datetime) -> float:
        if self.contract is None or not self.profile.ramp:
            return 1.0
        behind = self.profile.ramp - (self._index(day.date()) - self.first)
        return GROWTH ** -max(0, behind)


def _customer_events(customer: Customer, profile: UsageProfile, *, today: dt.date,
                     now: dt.datetime) -> Iterable[dict]:
    ext = customer.external_id
    seats = [
        (email, since, until, random.Random(f"usage-demo:{ext}:{email}").lognormvariate(
            0, profile.spread))
        for email, since, until in Seat.objects.filter(customer=customer).order_by("email")
        .values_list("email", "active_from", "active_until")
    ]
    calendar = _Calendar(customer, profile, today)
    day = calendar.start
    while day < now:
        active = [(email, weight) for email, since, until, weight in seats
                  if since < day + ONE_DAY and (until is None or until > day)]
        if active:
            for event in _day_events(ext, profile, day, active, calendar.adoption(day)):
                if event["at"] < now:
                    yield _event(ext, event)
        day += ONE_DAY


def _count(rng: random.Random, expected: float) -> int:
    noisy = expected * rng.uniform(0.85, 1.15)
    return int(noisy) + (rng.random() < noisy % 1)


def _day_events(ext: str, profile: UsageProfile, day: dt.datetime,
                active: list[tuple[str, float]], adoption: float) -> Iterable[dict]:
    rng = random.Random(f"usage-demo:{ext}:{day:%Y-%m-%d}")
    # Each calendar month is a little busier or quieter than the next: periods vary.
    month = random.Random(f"usage-demo:{ext}:{day:%Y-%m}").uniform(0.9, 1.1)
    weekday = WEEKEND if day.weekday() >= 5 else WEEKDAY
    level = adoption * month * weekday * len(active) / 30
    emails = [email for email, _ in active]
    weights = [weight for _, weight in active]
    # A customer-day's events fall in two hours (people's busy hour, and a night hour for
    # agents and schedules): the rollup works per customer-hour and per customer-day, and
    # on SQLite each costs several queries, so this keeps the load quick.
    hours = {"user": rng.randint(8, 18), "night": rng.randint(0, 5)}
    for n in range(_count(rng, profile.tasks * level)):
        initiated_by = rng.choices(["user", "agent", "schedule"], [65, 30, 5])[0]
        props = {"kind": rng.choice(TASK_KINDS), "initiated_by": initiated_by,
                 "seat": rng.choices(emails, weights)[0]}
        yield {"key": f"{day:%Y%m%d}-task-{n}", "type": "task.completed",
               "at": _moment(rng, day, hours, initiated_by), "properties": props}
    for n in range(_count(rng, profile.calls * level)):
        initiated_by = rng.choices(
            ["user", "agent", "schedule"],
            [1 - profile.agents, profile.agents * 0.75, profile.agents * 0.25])[0]
        models = FRONTIER_MODELS if rng.random() < profile.frontier else EVERYDAY_MODELS
        model, provider, _ = rng.choices(models, [w for *_, w in models])[0]
        batch = rng.random() < (0.5 if initiated_by == "schedule" else 0.15)
        # Agents and schedules carry long contexts: more tokens per call.
        size = profile.tokens * (1 if initiated_by == "user" else 2.5)
        inp = int(rng.lognormvariate(8.9 if batch else 7.3, 0.6) * size)
        outp = int(rng.lognormvariate(7.2 if batch else 5.9, 0.5) * size)
        props = {"model": model, "provider": provider, "input_tokens": inp,
                 "output_tokens": outp, "total_tokens": inp + outp,
                 "latency_tier": "batch" if batch else "realtime",
                 "initiated_by": initiated_by, "feature": rng.choice(FEATURES)}
        # A person's agent acts for their seat; a schedule belongs to nobody.
        if initiated_by == "user" or (initiated_by == "agent" and rng.random() < 0.7):
            props["seat"] = rng.choices(emails, weights)[0]
        yield {"key": f"{day:%Y%m%d}-ai-{n}", "type": AI_CALL,
               "at": _moment(rng, day, hours, initiated_by), "properties": props}


def _moment(rng: random.Random, day: dt.datetime, hours: dict, initiated_by: str) -> dt.datetime:
    hour = hours["user"] if initiated_by == "user" else hours["night"]
    return day + dt.timedelta(hours=hour, minutes=rng.randint(0, 59),
                              seconds=rng.randint(0, 59))


def _event(ext: str, event: dict) -> dict:
    return {"transaction_id": f"demo-{ext}-{event['key']}", "customer": ext,
            "event_type": event["type"],
            "timestamp": event["at"].isoformat().replace("+00:00", "Z"),
            "properties": event["properties"]}
