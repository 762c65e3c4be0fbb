"""Rating a group's work (``invoices.rating.drafts``) and its late usage (SPEC 2, 4), pure:
frozen contract terms, price books, seats, earlier invoices and usage in, invoices out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from invoices.rating import ChargeTerms, SeatSpan, Terms
from invoices.rating.books import OVERRIDE_FIELDS, PriceBook
from invoices.rating.drafts import Work, rate_work, usage_key
from invoices.rating.late_usage import InvoiceState
from invoices.rating.planning import Calendar, ContractTerms, Target
from plans.periods import Period

UTC = dt.UTC
BACKFILL = dt.timedelta(days=35)
OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))
DECEMBER = Period(dt.date(2026, 12, 1), dt.date(2027, 1, 1))
FEBRUARY = Period(dt.date(2027, 2, 1), dt.date(2027, 3, 1))


def at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


def book(version_id: int = 100, unit_price: str = "0.05") -> PriceBook:
    tasks = ChargeTerms("tasks", "tasks", "per_unit", unit_price=D(unit_price),
                        included_per_seat=D(1000), description="Tasks completed")
    terms = Terms(currency="USD", seat_price=D("40.00"), base_fee=D("0.00"), charges=(tasks,))
    return PriceBook(version_id, "team", version_id, "month", terms)


BOOKS = {100: book(), 99: book(99, unit_price="0.10")}
STORED = {**dict.fromkeys(OVERRIDE_FIELDS), "committed_seats": 3}  # SPEC 2: 3 committed
SEATS = tuple(SeatSpan(f"user{i}@acme.test", at(2026, 9, 1), None) for i in range(4)) + (
    SeatSpan("fifth@acme.test", at(2026, 10, 22, 9), None),)


def contract(contract_id: int = 1, customer_id: int = 10) -> ContractTerms:
    return ContractTerms(
        contract_id=contract_id, customer_id=customer_id, status="active",
        calendar=Calendar(OCTOBER.start, "month", OCTOBER.start, None), version_id=100,
        overrides=tuple(sorted(STORED.items())),
    )


def state(period: Period, status: str = "finalized", tasks: int = 5200, *, version_id=100,
          late: dict | None = None, **changes) -> InvoiceState:
    values = dict(
        id=f"{status}-{period.start}", period=period, status=status, plan_version_id=version_id,
        overrides=STORED, usage_snapshot={"tasks": str(tasks)}, late_usage_snapshots=late or {},
    )
    values.update(changes)
    return InvoiceState(**values)


def work(targets, *, states=(), usage=None, customers=(10,)) -> Work:
    contracts = {c: contract(c, c * 10) for c in {t.contract_id for t in targets}}
    return Work(
        targets=tuple(targets), contracts=contracts, books=BOOKS,
        seats=dict.fromkeys(customers, SEATS), states={10: tuple(states)},
        usage={usage_key(10, p, v): {"tasks": D(n)} for (p, v), n in (usage or {}).items()},
        backfill=BACKFILL,
    )


def target(period: Period, **changes) -> Target:
    return Target(**{"customer_id": 10, "contract_id": 1, "period": period, "version_id": 100,
                     **changes})


def test_the_worked_example_rates_to_216_80():
    (rating,) = rate_work(work([target(OCTOBER)], usage={(OCTOBER, 100): 5200}))

    (invoice,) = rating.invoices
    assert rating.error is None and invoice.total == D("216.80")
    assert [(line.kind, line.amount) for line in invoice.lines] == [
        ("seat", D("172.90")), ("usage", D("43.90"))]
    assert invoice.usage_snapshot == {"tasks": "5200"} and invoice.overrides == STORED
    assert invoice.late_usage_snapshots == {}


def test_late_events_of_a_billed_period_go_on_the_next_invoice_at_that_periods_terms():
    october = state(OCTOBER, version_id=99)  # billed on a version at 0.10 a task

    (rating,) = rate_work(work([target(NOVEMBER)], states=[october],
                               usage={(NOVEMBER, 100): 0, (OCTOBER, 99): 5300}))

    (invoice,) = rating.invoices
    (late,) = [line for line in invoice.lines if line.kind == "late_usage"]
    assert (late.quantity, late.amount, late.period_start) == (D(100), D("10.00"), OCTOBER.start)
    assert invoice.late_usage_snapshots == {"2026-10-01": {"tasks": "5300"}}
    assert invoice.total == D("200.00") + D("10.00")  # five seats all November, no tasks


def test_two_new_invoices_of_one_pass_bill_the_same_late_events_once():
    targets = [target(NOVEMBER), target(DECEMBER)]
    usage = {(NOVEMBER, 100): 0, (DECEMBER, 100): 0, (OCTOBER, 100): 5300}

    (rating,) = rate_work(work(targets, states=[state(OCTOBER)], usage=usage))

    november, december = rating.invoices
    assert [line.amount for line in november.lines if line.kind == "late_usage"] == [D("5.00")]
    assert [line for line in december.lines if line.kind == "late_usage"] == []


def test_periods_older_than_the_backfill_window_are_not_revisited():
    (rating,) = rate_work(work([target(FEBRUARY)], states=[state(OCTOBER)],
                               usage={(FEBRUARY, 100): 0}))

    assert "late_usage" not in [line.kind for line in rating.invoices[0].lines]
    assert rating.invoices[0].late_usage_snapshots == {}


def test_a_draft_rated_again_keeps_late_usage_a_later_invoice_already_billed_after_it():
    late_line = rate_work(work([target(NOVEMBER)], states=[state(OCTOBER)],
                               usage={(NOVEMBER, 100): 0, (OCTOBER, 100): 5250}))[0]
    kept = [line for line in late_line.invoices[0].lines if line.kind == "late_usage"]
    november = state(NOVEMBER, "draft", 0, late={"2026-10-01": {"tasks": "5250"}},
                     late_lines=tuple(kept), rerating=True)
    december = state(DECEMBER, tasks=0, late={"2026-10-01": {"tasks": "5300"}})

    (rating,) = rate_work(work(
        [target(NOVEMBER, draft_id=november.id)], states=[state(OCTOBER), november, december],
        usage={(NOVEMBER, 100): 0, (OCTOBER, 100): 5400}))

    (invoice,) = rating.invoices
    assert [line for line in invoice.lines if line.kind == "late_usage"] == kept
    assert invoice.late_usage_snapshots == {"2026-10-01": {"tasks": "5250"}}


def test_a_customer_whose_rating_fails_is_reported_and_the_others_are_rated():
    broken = target(OCTOBER, customer_id=20, contract_id=2, version_id=404)  # no such book
    good = work([target(OCTOBER), broken], usage={(OCTOBER, 100): 5200}, customers=(10, 20))

    rated, failed = rate_work(good)

    assert rated.customer_id == 10 and rated.invoices[0].total == D("216.80")
    assert (failed.customer_id, failed.invoices, failed.error) == (20, (), "KeyError: 404")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 3000), st.integers(0, 3000))
def test_late_usage_over_two_later_invoices_adds_up_to_the_period_full_difference(
        billed, first_late, second_late):
    """Whatever arrives when, an earlier period ends up billed exactly once in total."""
    october = state(OCTOBER, tasks=4000 + billed)
    after_first = 4000 + billed + first_late
    (nov,) = rate_work(work([target(NOVEMBER)], states=[october],
                            usage={(NOVEMBER, 100): 0, (OCTOBER, 100): after_first}))
    november = state(NOVEMBER, tasks=0, late=nov.invoices[0].late_usage_snapshots)
    (dec,) = rate_work(work(
        [target(DECEMBER)], states=[october, november],
        usage={(DECEMBER, 100): 0, (NOVEMBER, 100): 0,
               (OCTOBER, 100): after_first + second_late}))

    late = sum(line.amount for r in (nov, dec) for line in r.invoices[0].lines
               if line.kind == "late_usage")
    full = rate_work(work([target(OCTOBER)],
                          usage={(OCTOBER, 100): after_first + second_late}))[0].invoices[0]
    original = rate_work(work([target(OCTOBER)], usage={(OCTOBER, 100): 4000 + billed}))[0]
    assert late == full.total - original.invoices[0].total
