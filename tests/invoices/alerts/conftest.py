from __future__ import annotations

import datetime as dt

import pytest

from tests.invoices.billing_fixtures import add_events, add_seat, at, team_version, worked_example

# Inside the worked example's October: the period is open, 24 days and a half gone.
NOW = dt.datetime(2026, 10, 25, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def team(db):
    return team_version()


@pytest.fixture
def contract(team):
    """4 seats all October (a fifth from the 22nd), committed 3; allowance 1,000 tasks a
    seat; no tasks yet (each test adds its own)."""
    return worked_example(version=team, tasks=0)


@pytest.fixture
def customer(contract):
    return contract.customer


__all__ = ["NOW", "add_events", "add_seat", "at"]
