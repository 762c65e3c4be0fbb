"""A book of three customers on plan "team" whose every backtest answer is hand-computable.

Version 1 (what they are on): seats only, 30.00 a seat. Version 2 (the candidate):
20.00 a seat plus tasks at 0.05 above 100 included per seat. Monthly contracts from
1 August 2026; seats active all along; every task costs the vendor 0.02.

| customer | seats | tasks a month | cost a month | v1     | v2                        |
| light    | 2     | 50            | 1.00         | 60.00  | 40.00 (200 included)      |
| heavy    | 1     | 1,000         | 20.00        | 30.00  | 20 + 900 × 0.05 = 65.00   |
| whale    | 1     | 5,000         | 100.00       | 30.00  | 20 + 4,900 × 0.05 = 265.00 |
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from accounts.models import Customer
from plans.models import Plan
from plans.services import contract_create
from tests.factories import CustomerFactory, make_version
from tests.invoices.billing_fixtures import add_seat, at, tasks_metric
from usage.models import Event

MONTHS = [(at(2026, 8, 1), at(2026, 9, 1)), (at(2026, 9, 1), at(2026, 10, 1)),
          (at(2026, 10, 1), at(2026, 11, 1))]
BOOK = {"light": (2, 50), "heavy": (1, 1000), "whale": (1, 5000)}
TASK_COST = Decimal("0.02")
V1_TOTAL = {"light": Decimal("60.00"), "heavy": Decimal("30.00"), "whale": Decimal("30.00")}
V2_TOTAL = {"light": Decimal("40.00"), "heavy": Decimal("65.00"), "whale": Decimal("265.00")}
COST = {"light": Decimal("1.00"), "heavy": Decimal("20.00"), "whale": Decimal("100.00")}
AS_OF = at(2026, 11, 1, 1)  # August, September and October have ended
_tx = itertools.count()


def build_book(*, candidate_published: bool = True):
    """(plan, v1, v2); every customer's contract on v1."""
    tasks_metric()
    plan = Plan.objects.create(code="team", name="Team")
    v1 = make_version(plan=plan, seat_price="30.00")
    v2 = make_version(plan=plan, seat_price="20.00", publish=candidate_published, charges=[
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 100}])
    for name, (seats, tasks) in BOOK.items():
        customer = CustomerFactory(external_id=name, currency="USD")
        contract_create(customer=customer, plan_version=v1, start_date=dt.date(2026, 8, 1))
        for i in range(seats):
            add_seat(customer, f"user{i}@{name}.test", at(2026, 7, 1))
        for start, _end in MONTHS:
            add_tasks(customer, tasks, when=start + dt.timedelta(days=10))
    return plan, v1, v2


def add_tasks(customer: Customer, count: int, *, when: dt.datetime,
              received_at: dt.datetime | None = None) -> None:
    Event.objects.bulk_create([
        Event(customer=customer, transaction_id=f"book-{next(_tx)}", event_type="task.completed",
              timestamp=when, properties={}, provider_cost=TASK_COST,
              received_at=received_at or when)
        for _ in range(count)
    ])
