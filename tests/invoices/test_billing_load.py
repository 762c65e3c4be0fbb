"""Loading a billing run's work: plain frozen data, in a number of queries that does not
grow with the number of customers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal as D

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from invoices.models import Invoice
from invoices.rating.planning import Migration, Target
from invoices.selectors.billing_load import load_period, load_redraft, load_run
from invoices.services import billing_run
from plans.periods import Period
from plans.services import contract_schedule_migration
from tests.factories import PlanFactory
from tests.invoices.billing_fixtures import at, team_version, worked_example

pytestmark = pytest.mark.django_db

CUTOFF = at(2026, 11, 1)
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))


def plain(value, path="work"):
    """Every value reachable from ``value`` is frozen data: no model rows, no querysets."""
    assert not isinstance(value, models.Model | models.QuerySet), path
    if dataclasses.is_dataclass(value):
        assert type(value).__dataclass_params__.frozen, f"{path} is not frozen"
        for f in dataclasses.fields(value):
            plain(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            plain(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for n, item in enumerate(value):
            plain(item, f"{path}[{n}]")


def test_a_runs_work_comes_as_frozen_data_with_migrations_and_overrides():
    plan = PlanFactory(code="team")
    v1 = team_version(plan=plan)
    v2 = team_version(plan=plan, seat_price="50.00")
    contract = worked_example(version=v1, seat_price=D("30"))
    contract_schedule_migration(contract=contract, plan_version=v2,
                                effective_date=dt.date(2026, 12, 1), today=dt.date(2026, 10, 5))

    loaded = load_run(customer_ids=[contract.customer_id], cutoff=at(2027, 1, 1),
                      max_periods=36)

    work = loaded.work
    terms = work.contracts[contract.pk]
    assert terms.migrations == (Migration(dt.date(2026, 12, 1), v2.pk),)
    assert dict(terms.overrides)["seat_price"] == "30"
    assert dict(terms.overrides)["committed_seats"] == 3
    assert [(t.period.start.month, t.version_id) for t in work.targets] == [
        (10, v1.pk), (11, v1.pk), (12, v2.pk)]
    assert set(work.books) == {v1.pk, v2.pk} and work.books[v2.pk].plan_code == "team"
    assert len(work.seats[contract.customer_id]) == 5
    assert work.usage[(contract.customer_id, OCTOBER, v1.pk)] == {"tasks": 5200}
    assert loaded.refused == {} and loaded.drafts == {}
    plain(work)


def _queries_to_load(customers: int, version) -> int:
    contracts = [worked_example(external_id=f"q{customers}-{n}", version=version)
                 for n in range(customers)]
    ids = sorted(c.customer_id for c in contracts)
    with CaptureQueriesContext(connection) as queries:
        loaded = load_run(customer_ids=ids, cutoff=CUTOFF, max_periods=36)
    assert len(loaded.work.targets) == customers
    return len(queries)


def test_loading_takes_as_many_queries_for_six_customers_as_for_two():
    version = team_version()  # one price book: usage is measured per book and window
    assert _queries_to_load(2, version) == _queries_to_load(6, version)


def test_drafts_not_on_hold_are_loaded_to_be_rated_again_with_their_saved_lines():
    contract = worked_example()
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    draft = Invoice.objects.get()

    loaded = load_run(customer_ids=[contract.customer_id], cutoff=CUTOFF, max_periods=36)

    assert loaded.work.targets == (
        Target(contract.customer_id, contract.pk, OCTOBER, contract.plan_version_id,
               draft_id=draft.pk),)
    saved = loaded.drafts[draft.pk]
    assert saved.total == D("216.80") and len(saved.line_fingerprints) == 2
    (state,) = loaded.work.states[contract.customer_id]
    assert state.rerating and state.id == draft.pk


def test_redrafting_loads_only_the_named_drafts_and_the_preview_one_period():
    contract = worked_example()
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))
    october, november = Invoice.objects.order_by("period_start")

    redraft = load_redraft(draft_ids=[november.pk])
    preview = load_period(contract_id=contract.pk, period=NOVEMBER)

    assert [t.draft_id for t in redraft.work.targets] == [november.pk]
    assert [(t.period, t.draft_id) for t in preview.work.targets] == [(NOVEMBER, None)]
    assert {s.id for s in preview.work.states[contract.customer_id]} == {october.pk, november.pk}


def test_a_contract_over_the_cap_is_refused_before_anything_else_is_loaded():
    contract = worked_example(start=dt.date(2023, 7, 1))

    loaded = load_run(customer_ids=[contract.customer_id], cutoff=CUTOFF, max_periods=36)

    assert loaded.work.targets == () and loaded.work.usage == {}
    assert loaded.refused[contract.customer_id].startswith("PeriodLimitExceeded")
