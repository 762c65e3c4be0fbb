"""A small book for the ops views: hybrid-plan customers billed for October 2026 with
AI calls costed, rolled up, and the clock on 5 November (October closed, November open)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
import time_machine

from invoices.services import billing_run
from tests.invoices.billing_fixtures import at, team_version, worked_example
from usage.models import Event
from usage.rollups import rollup_usage

NOW = at(2026, 11, 5, 12)
_tx = itertools.count()


def ai_calls(customer, *, cost: str, when, seats=("user0",), initiated_by="user", count=1,
             model="gpt-4.1-mini", received_at=None) -> None:
    """``count`` AI calls per seat, each costing ``cost``."""
    Event.objects.bulk_create([
        Event(customer=customer, transaction_id=f"ai-{next(_tx)}", event_type="ai.call",
              timestamp=when, model=model, seat=f"{seat}@{customer.external_id}.test",
              properties={"initiated_by": initiated_by, "total_tokens": 1000},
              provider_cost=Decimal(cost), received_at=received_at or when)
        for seat in seats for _ in range(count)
    ])


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def build_book(names, *, tasks: int = 10, losing: tuple[str, ...] = (), version=None) -> list:
    """One hybrid customer per name, invoiced for October; the ``losing`` ones cost far
    more than their bill. Rolled up as of 2 November."""
    version = version or team_version()
    contracts = []
    for name in names:
        contract = worked_example(external_id=name, version=version, tasks=tasks)
        cost = "100" if name in losing else "1"
        ai_calls(contract.customer, cost=cost, when=at(2026, 10, 20, 10),
                 seats=("user0", "user1", "user2"), initiated_by="agent")
        ai_calls(contract.customer, cost="0.5", when=at(2026, 10, 21, 10), seats=("user3",))
        ai_calls(contract.customer, cost="0.25", when=at(2026, 11, 3, 10), seats=("user0",))
        contracts.append(contract)
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    rollup_usage(now=at(2026, 11, 4))
    return contracts


@pytest.fixture
def book(db, clock):
    return build_book(["alpha", "beta"], tasks=5200, losing=("beta",))
