"""Planning a billing run (SPEC 1, 3, 4), without a database: which periods are due, on
which version, and whom the per-contract cap refuses."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from invoices.rating.planning import (
    Calendar,
    ContractTerms,
    DraftKey,
    Migration,
    Target,
    billing_cutoff,
    cutoff_day,
    due_periods,
    plan_run,
)
from plans.periods import Period

UTC = dt.UTC
MODEST = settings(max_examples=200, deadline=None)
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def contract(contract_id: int = 1, customer_id: int = 10, *, start=dt.date(2026, 10, 1),
             end=None, interval="month", version_id=100, migrations=()) -> ContractTerms:
    return ContractTerms(
        contract_id=contract_id, customer_id=customer_id, status="active",
        calendar=Calendar(anchor=start, interval=interval, start=start, end=end),
        version_id=version_id, migrations=tuple(migrations),
    )


def test_a_period_is_due_once_the_grace_time_after_its_end_has_passed():
    grace = dt.timedelta(hours=1)
    october = contract()

    early = plan_run(contracts=[october], cutoff=billing_cutoff(at(2026, 11, 1, 0), grace=grace))
    on_time = plan_run(contracts=[october], cutoff=billing_cutoff(at(2026, 11, 1, 1), grace=grace))

    assert early.targets == ()
    assert on_time.targets == (Target(10, 1, OCTOBER, 100),)


def test_invoiced_periods_are_not_due_again_and_missed_ones_are_due_in_order():
    plan = plan_run(contracts=[contract()], invoiced={(1, OCTOBER.start)},
                    cutoff=at(2027, 1, 15))

    assert [t.period for t in plan.targets] == [NOVEMBER, DECEMBER]


def test_the_term_end_stops_the_periods():
    ended = contract(end=dt.date(2026, 11, 30))

    assert [t.period for t in plan_run(contracts=[ended], cutoff=at(2027, 6, 1)).targets] == [
        OCTOBER, NOVEMBER]


def test_periods_anchor_on_the_start_day_and_clamp_to_short_months():
    calendar = Calendar(dt.date(2026, 1, 31), "month", dt.date(2026, 1, 31), dt.date(2026, 4, 29))

    assert calendar.periods() == (
        Period(dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
        Period(dt.date(2026, 2, 28), dt.date(2026, 3, 31)),
        Period(dt.date(2026, 3, 31), dt.date(2026, 4, 30)),
    )
    assert calendar.periods(until=dt.date(2026, 3, 30)) == calendar.periods()[:1]


def test_yearly_contracts_have_yearly_periods():
    yearly = Calendar(dt.date(2026, 3, 15), "year", dt.date(2026, 3, 15), None)

    first, second = yearly.periods(until=dt.date(2028, 3, 15))

    assert first == Period(dt.date(2026, 3, 15), dt.date(2027, 3, 15))
    assert second.end == dt.date(2028, 3, 15)


def test_a_period_is_rated_on_the_version_in_force_at_its_start():
    migrating = contract(migrations=[Migration(dt.date(2026, 12, 1), 200)])

    plan = plan_run(contracts=[migrating], cutoff=at(2027, 1, 1, 1))

    assert [(t.period, t.version_id) for t in plan.targets] == [
        (OCTOBER, 100), (NOVEMBER, 100), (DECEMBER, 200)]


def test_drafts_to_rate_again_come_with_their_version_and_in_period_order():
    migrating = contract(migrations=[Migration(dt.date(2026, 11, 1), 200)])
    drafts = [DraftKey("nov", 10, 1, NOVEMBER), DraftKey("oct", 10, 1, OCTOBER)]

    plan = plan_run(contracts=(), drafts=drafts, by_id={1: migrating})

    assert plan.targets == (Target(10, 1, OCTOBER, 100, draft_id="oct"),
                            Target(10, 1, NOVEMBER, 200, draft_id="nov"))


def test_targets_are_sorted_by_customer_then_period_then_contract():
    contracts = [contract(3, 20), contract(2, 10, start=dt.date(2026, 11, 1)), contract(1, 10)]

    plan = plan_run(contracts=contracts, cutoff=at(2026, 12, 1, 1))

    assert [(t.customer_id, t.period.start.month, t.contract_id) for t in plan.targets] == [
        (10, 10, 1), (10, 11, 1), (10, 11, 2), (20, 10, 3), (20, 11, 3)]


def test_a_contract_over_the_cap_refuses_all_of_its_customers_work():
    old = contract(1, 10, start=dt.date(2023, 7, 1))  # 40 monthly periods by November 2026
    sibling = contract(2, 10)
    other = contract(3, 20)
    draft = DraftKey("draft", 10, 2, OCTOBER)

    plan = plan_run(contracts=[old, sibling, other], drafts=[draft], cutoff=at(2026, 11, 1, 1),
                    max_periods=36)

    assert [t.customer_id for t in plan.targets] == [20]
    assert plan.refused[10].startswith("PeriodLimitExceeded: contract 1 has 40 periods due, "
                                       "more than the 36 one run may bill")
    assert "(2023-07-01)" in plan.refused[10]


def test_a_contract_with_exactly_the_cap_due_is_planned():
    plan = plan_run(contracts=[contract(start=dt.date(2026, 5, 1))], cutoff=at(2026, 11, 1, 1),
                    max_periods=6)

    assert len(plan.targets) == 6 and not plan.refused


days = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


@st.composite
def calendars(draw):
    start = draw(days)
    anchor = start - dt.timedelta(days=draw(st.integers(0, 400)))
    end = draw(st.none() | st.dates(min_value=start, max_value=start + dt.timedelta(days=1500)))
    return Calendar(anchor, draw(st.sampled_from(["month", "year"])), start, end)


@MODEST
@given(calendars(), days, st.data())
def test_due_periods_are_exactly_the_ended_uninvoiced_periods_of_the_term(calendar, until, data):
    ended = calendar.periods(until=until)
    invoiced = {(7, p.start) for p in data.draw(st.sets(st.sampled_from(ended)))} if ended else set()

    due = due_periods(7, calendar, until=until, invoiced=invoiced)

    assert due == [p for p in ended if (7, p.start) not in invoiced]
    for period in due:
        assert period.end <= until and calendar.start <= period.start
        assert calendar.end is None or period.start <= calendar.end
    for before, after in zip(ended, ended[1:], strict=False):
        assert before.end == after.start  # contiguous: no day is skipped or billed twice


@MODEST
@given(st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1),
                    timezones=st.just(UTC)))
def test_a_period_has_ended_by_the_cutoff_exactly_when_its_end_day_is_not_after_it(cutoff):
    day = cutoff_day(cutoff)
    for end in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
        midnight = dt.datetime(end.year, end.month, end.day, tzinfo=UTC)
        assert (midnight <= cutoff) == (end <= day)


@MODEST
@given(st.lists(st.tuples(days, st.integers(1, 5)), max_size=5), days)
def test_the_version_in_force_is_the_latest_migration_effective_by_the_period_start(
        scheduled, start):
    migrations = tuple(Migration(d, v) for d, v in sorted(scheduled))
    terms = contract(migrations=migrations)
    period = Period(start, start + dt.timedelta(days=30))

    effective = [m.version_id for m in migrations if m.effective_date <= start]
    assert terms.version_for(period) == (effective[-1] if effective else 100)
