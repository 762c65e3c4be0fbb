"""A book of customers on plan "team" whose archetypes and recommendations are
hand-computable (docs/lab.md works through the same numbers).

Version 1 (every contract's): seats only, 30.00 a seat. Version 2 (a draft candidate):
20.00 a seat plus tasks at 0.05 above 100 included per seat. Monthly contracts from
1 October 2026, seats active all along, each task costs the vendor 0.10; October has
ended by ``AS_OF``.

| customer | seats | billed | tasks | cost  | per-seat cost | tasks per seat |
| a        | 1     | 1      | 10    | 1.00  | 1             | 10             |
| b        | 2     | 2      | 100   | 10.00 | 5             | 50             |
| c        | 1     | 1      | 100   | 10.00 | 10            | 100            |
| d        | 3     | 4 (committed 4) | 800 | 80.00 | 20       | 200            |
| e        | 1     | 1      | 500   | 50.00 | 50            | 500            |
| zero     | 0     | 0      | 5     | 0.50  | left out, counted                |

Per-seat cost [1, 5, 10, 20, 50]: P20 = 1 + 0.8 × 4 = 4.2, P50 = 10, P80 = 20 + 0.2 × 30
= 26, P95 = 20 + 0.8 × 30 = 44. Tasks per seat [10, 50, 100, 200, 500]: P20 42, P50 100,
P80 260, P95 440.
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

AS_OF = at(2026, 11, 1, 1)
TASK_COST = Decimal("0.10")
# name: (seats, committed seats, tasks in October)
BOOK = {"a": (1, 0, 10), "b": (2, 0, 100), "c": (1, 0, 100), "d": (3, 4, 800),
        "e": (1, 0, 500), "zero": (0, 0, 5)}
_tx = itertools.count()


def add_tasks(customer: Customer, count: int, *, when: dt.datetime) -> None:
    Event.objects.bulk_create([
        Event(customer=customer, transaction_id=f"pricing-{next(_tx)}",
              event_type="task.completed", timestamp=when, properties={},
              provider_cost=TASK_COST, received_at=when)
        for _ in range(count)
    ])


def build_book(*, candidate_published: bool = False, start: dt.date = dt.date(2026, 10, 1)):
    """(plan, v1, v2), every customer of ``BOOK`` on v1, plus customers the sample must
    leave out: one on another plan, one whose first period has not ended. ``start`` moves
    the book's month (October 2026 by default)."""
    day = dt.timedelta(days=1)
    first = at(start.year, start.month, start.day)
    tasks_metric()
    plan = Plan.objects.create(code="team", name="Team")
    v1 = make_version(plan=plan, seat_price="30.00")
    v2 = make_version(plan=plan, seat_price="20.00", publish=candidate_published, charges=[
        {"metric": "tasks", "model": "per_unit", "unit_price": "0.05", "included_per_seat": 100}])
    for name, (seats, committed, tasks) in BOOK.items():
        customer = CustomerFactory(external_id=name, currency="USD")
        contract_create(customer=customer, plan_version=v1, start_date=start,
                        committed_seats=committed)
        for i in range(seats):
            add_seat(customer, f"user{i}@{name}.test", first - 30 * day)
        add_tasks(customer, tasks, when=first + 11 * day)
    other = make_version(plan=Plan.objects.create(code="solo", name="Solo"), seat_price="9.00")
    outsider = CustomerFactory(external_id="outsider", currency="USD")
    contract_create(customer=outsider, plan_version=other, start_date=start)
    add_seat(outsider, "o@outsider.test", first - 30 * day)
    add_tasks(outsider, 999, when=first + 11 * day)
    newcomer = CustomerFactory(external_id="newcomer", currency="USD")
    contract_create(customer=newcomer, plan_version=v1, start_date=start + 19 * day)
    add_seat(newcomer, "n@newcomer.test", first + 19 * day)
    add_tasks(newcomer, 999, when=first + 24 * day)
    return plan, v1, v2
