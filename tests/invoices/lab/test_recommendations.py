"""Recommendations over the hand-computable book (tests/invoices/lab/pricing_book.py) and
the draft version they make."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.lab.customer_periods import customer_periods
from invoices.lab.pricing import CustomerPeriod, Sample
from invoices.lab.pricing_selectors import Settings, plan_recommendation
from invoices.lab.recommendations import EmptySample, recommend, recommendation_draft
from plans.models import PlanVersion
from plans.periods import Period
from plans.services.catalog import charge_specs
from tests.invoices.lab.pricing_book import AS_OF, build_book

OCTOBER = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1))


def sample(*rows: tuple[str, str, str]) -> Sample:
    """Rows of (provider cost, billed seats, tasks)."""
    return Sample.of([
        CustomerPeriod(customer=f"c{i}", contract_id=i, period=OCTOBER, version_id=1,
                       billed_seats=D(seats), provider_cost=D(cost), usage={"tasks": D(tasks)})
        for i, (cost, seats, tasks) in enumerate(rows)
    ], metrics=["tasks"])


def test_a_tight_book_is_safe_seat_only():
    # Per-seat costs 4, 5, 6, 8: P20 = 4.6, P95 = 7.7, well within 10×.
    found = recommend(sample(("4", "1", "10"), ("10", "2", "30"), ("6", "1", "20"),
                             ("8", "1", "50")))
    assert found.seat_cost_at_percentile == D("6.8")  # h = 2.4: 6 + 0.4 × 2
    assert found.seat_price == D("22.67")  # 6.8 / 0.3 = 22.666… up
    assert found.verdict.spread == D("1.67") and found.verdict.unsafe is False
    # Covered per seat 22.67 × 0.3 = 6.801: the seat costing 8 leaves 1.199 uncovered.
    assert found.exposure.money_at_stake == D("1.20")
    assert (found.exposure.periods_above, found.exposure.their_cost) == (1, D("8.00"))
    # Tasks per seat 10, 15, 20, 50: at 0.8, h = 2.4 → 20 + 0.4 × 30 = 32.
    assert found.usage_at_share == {"tasks": D(32)}
    assert found.included_per_seat == {"tasks": 32}
    assert found.within_allowance == {"tasks": 3}


def test_the_knobs_move_the_numbers():
    rows = (("4", "1", "10"), ("10", "2", "30"), ("6", "1", "20"), ("8", "1", "50"))
    found = recommend(sample(*rows), percentile_k=50, target_margin=D("0.5"), share=D("0.5"))
    assert found.seat_cost_at_percentile == D("5.5")
    assert found.seat_price == D("11.00")
    assert found.included_per_seat == {"tasks": 18}  # 15 + 0.5 × 5 = 17.5, up


def test_nothing_to_recommend_from():
    with pytest.raises(EmptySample):
        recommend(sample(("3", "0", "1")))


@pytest.mark.django_db
def test_the_books_recommendation_with_the_numbers_behind_it():
    plan, _v1, _v2 = build_book()
    found = plan_recommendation(plan=plan, periods=1, now=AS_OF)
    assert (found.customer_periods, found.zero_seat_periods) == (5, 1)
    assert found.seat_cost_at_percentile == D(26)
    assert found.seat_price == D("86.67")  # 26 / 0.3 = 86.666… up to the cent
    assert found.included_per_seat == {"tasks": 260}
    assert found.within_allowance == {"tasks": 4}  # a, b, c, d; e uses 500 a seat
    # P95 / P20 = 44 / 4.2 = 10.476…: one seat price cannot fit everyone.
    assert found.verdict.spread == D("10.48") and found.verdict.unsafe is True
    # Covered per seat: 86.67 × 0.3 = 26.001. Of the billed, only e (1 seat, 50.00) costs more:
    # 50 − 26.001 = 23.999; "zero" (no billed seat) covers none of its 0.50: 24.499,
    # i.e. 24.50 at stake.
    assert found.exposure.covered_seat_cost == D("26.001")
    assert found.exposure.money_at_stake == D("24.50")
    assert (found.exposure.periods_above, found.exposure.their_cost) == (2, D("50.50"))


@pytest.mark.django_db
def test_the_books_recommendation_at_other_settings():
    plan, _v1, _v2 = build_book()
    found = plan_recommendation(plan=plan, periods=1, now=AS_OF,
                                settings=Settings(percentile=95, target_margin=D("0.6"),
                                                  share=D("0.5")))
    assert found.seat_price == D("110.00")  # 44 / 0.4
    assert found.included_per_seat == {"tasks": 100}
    assert found.exposure.money_at_stake == D("6.50")  # e: 50 − 110 × 0.4; zero: 0.50


@pytest.mark.django_db
def test_the_draft_copies_the_current_version_with_the_recommended_price():
    plan, v1, _v2 = build_book()
    found = recommend(customer_periods(plan=plan, periods=1, now=AS_OF).sample)
    draft = recommendation_draft(plan=plan, recommendation=found, today=dt.date(2026, 11, 1))
    assert draft.status == PlanVersion.Status.DRAFT
    assert draft.version == 3  # after v1 and the candidate v2
    assert draft.seat_price == D("86.67")
    assert draft.effective_from == dt.date(2026, 11, 1)
    assert (draft.currency, draft.billing_interval) == (v1.currency, v1.billing_interval)
    assert charge_specs(version=draft) == []  # v1 has no charge to put an allowance on


@pytest.mark.django_db
def test_the_draft_puts_the_allowance_on_the_current_versions_charges():
    plan, _v1, v2 = build_book(candidate_published=True)  # v2 is current now
    found = recommend(customer_periods(plan=plan, periods=1, now=AS_OF).sample)
    draft = recommendation_draft(plan=plan, recommendation=found, today=dt.date(2026, 11, 1))
    (charge,) = charge_specs(version=draft)
    assert charge["metric"] == "tasks"
    assert charge["included_per_seat"] == 260
    assert charge["unit_price"] == D("0.05")  # the price itself is v2's
    assert draft.seat_price == D("86.67")
    v2.refresh_from_db()
    assert v2.seat_price == D("20.00")  # the source is untouched


@pytest.mark.django_db
def test_the_recommended_draft_backtests_with_no_customer_losing_money():
    from invoices.lab.backtest_selectors import backtest_results
    from invoices.lab.backtest_service import backtest_create, backtest_run

    plan, _v1, _v2 = build_book()
    found = recommend(customer_periods(plan=plan, periods=1, now=AS_OF).sample)
    draft = recommendation_draft(plan=plan, recommendation=found, today=AS_OF.date())
    backtest = backtest_create(plan="team", plan_version=draft.version, periods=1, now=AS_OF)
    backtest_run(backtest_id=backtest.pk, now=AS_OF)
    rows = {r.customer.external_id: r for r in backtest_results(backtest=backtest)}
    # On v1 (30.00 a seat) e lost 20.00 (it costs 50.00); at 86.67 a seat nobody does.
    assert {n: (r.current_total, r.candidate_total) for n, r in rows.items()} == {
        "a": (D("30.00"), D("86.67")), "b": (D("60.00"), D("173.34")),
        "c": (D("30.00"), D("86.67")), "d": (D("120.00"), D("346.68")),
        "e": (D("30.00"), D("86.67")), "zero": (D("0.00"), D("0.00"))}
    assert rows["e"].current_total - rows["e"].provider_cost == D("-20.00")
    assert all(r.candidate_total >= r.provider_cost for n, r in rows.items() if n != "zero")
