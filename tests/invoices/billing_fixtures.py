"""Builders shared by the invoice tests: the SPEC worked example, events, seats."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from accounts.models import Customer, Seat
from plans.models import Contract, Plan, PlanVersion
from plans.services import contract_create
from tests.factories import CustomerFactory, MetricFactory, make_version
from usage.models import Event

UTC = dt.UTC
_tx = itertools.count()


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def add_events(customer: Customer, *, count: int, when: dt.datetime,
               event_type: str = "task.completed", properties: dict | None = None,
               received_at: dt.datetime | None = None) -> None:
    Event.objects.bulk_create([
        Event(customer=customer, transaction_id=f"tx-{next(_tx)}", event_type=event_type,
              timestamp=when, properties=properties or {}, received_at=received_at or when)
        for _ in range(count)
    ])


def add_seat(customer: Customer, email: str, active_from: dt.datetime,
             active_until: dt.datetime | None = None) -> Seat:
    return Seat.objects.create(customer=customer, email=email, active_from=active_from,
                               active_until=active_until)


def tasks_metric():
    return MetricFactory(code="tasks", name="Tasks completed", event_type="task.completed",
                         aggregation="count")


def team_version(*, plan=None, seat_price: str = "40.00", unit_price: str = "0.05",
                 included_per_seat: int | None = 1000, effective_from=dt.date(2026, 1, 1),
                 currency: str = "USD", billing_interval: str = "month") -> PlanVersion:
    tasks_metric()
    charge = {"metric": "tasks", "model": "per_unit", "unit_price": unit_price}
    if included_per_seat is not None:
        charge["included_per_seat"] = included_per_seat
    plan = plan or Plan.objects.get_or_create(code="team", defaults={"name": "Team"})[0]
    return make_version(plan=plan, seat_price=seat_price,
                        charges=[charge], effective_from=effective_from, currency=currency,
                        billing_interval=billing_interval)


def worked_example(*, external_id: str = "acme", version: PlanVersion | None = None,
                   start: dt.date = dt.date(2026, 10, 1), tasks: int = 5200,
                   **contract_fields) -> Contract:
    """SPEC 2's worked example: 4 seats all October, a fifth from the 22nd, 5,200 tasks."""
    version = version or team_version()
    customer = CustomerFactory(external_id=external_id, currency=version.currency)
    contract_fields.setdefault("committed_seats", 3)
    contract = contract_create(customer=customer, plan_version=version, start_date=start,
                               **contract_fields)
    for i in range(4):
        add_seat(customer, f"user{i}@{external_id}.test", at(2026, 9, 1))
    add_seat(customer, f"fifth@{external_id}.test", at(2026, 10, 22, 9))
    if tasks:
        add_events(customer, count=tasks, when=at(2026, 10, 15, 12))
    return contract


def amounts(invoice) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in invoice.lines.all()]
