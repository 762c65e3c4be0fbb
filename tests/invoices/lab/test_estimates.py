"""Pre-launch estimates: archetype costs from actions, calls, tokens and the model's
provider price, by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from invoices.lab.archetypes import SEAT_ONLY, price_profiles, seat_only_terms
from invoices.lab.estimates import EstimateInputs, UnknownModel, advise, estimate, price_of
from invoices.rating import ChargeTerms, Terms
from plans.periods import Period
from tests.factories import ModelPriceFactory
from usage.pricing import Price

# gpt-4.1-mini as the factory prices it: 0.40 per 1M input tokens, 1.60 per 1M output.
PRICE = Price("openai", "gpt-4.1-mini", dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
              D("0.40"), D("1.60"), D(0))
ACTIONS = {"light": D(20), "median": D(60), "heavy": D(200), "tail": D(600)}
NOVEMBER = Period(dt.date(2026, 11, 1), dt.date(2026, 12, 1))


def inputs(**changes) -> EstimateInputs:
    fields = {"actions_per_month": ACTIONS, "calls_per_action": D(4),
              "input_tokens_per_call": 1200, "output_tokens_per_call": 300, "price": PRICE,
              "action_metric": "tasks", **changes}
    return EstimateInputs(**fields)


def test_each_archetype_costs_its_calls_at_the_models_price():
    found = estimate(inputs())
    # One call: 1200 × 0.40 / 1e6 + 300 × 1.60 / 1e6 = 0.00048 + 0.00048.
    assert found.call_cost == D("0.00096")
    assert found.calls_per_month == {"light": 80, "median": 240, "heavy": 800, "tail": 2400}
    assert found.tokens_per_month["light"] == 120_000  # 80 calls × 1,500 tokens
    assert [(p.name, p.percentile, p.seat_cost) for p in found.profiles] == [
        ("light", 20, D("0.0768")), ("median", 50, D("0.2304")), ("heavy", 80, D("0.768")),
        ("tail", 95, D("2.304"))]
    assert found.profiles[0].seat_usage == {"tasks": D(20)}


def test_the_heavy_user_sets_the_seat_price_and_the_spread_the_verdict():
    advice = advise(estimate(inputs()), target_margin=D("0.7"), currency="USD")
    assert advice.seat_price == D("2.56")  # 0.768 / 0.3 exactly
    assert advice.verdict.spread == D("30.00") and advice.verdict.unsafe is True
    # Covered per seat 2.56 × 0.3 = 0.768: only the tail costs more, 2.304 − 0.768 = 1.536.
    assert advice.exposure.money_at_stake == D("1.54")
    assert (advice.exposure.periods_above, advice.exposure.their_cost) == (1, D("2.30"))


def test_a_tight_estimate_is_safe_seat_only():
    advice = advise(estimate(inputs(actions_per_month={
        "light": D(100), "median": D(120), "heavy": D(150), "tail": D(200)})),
        target_margin=D("0.7"), currency="USD")
    assert advice.verdict.spread == D("2.00") and advice.verdict.unsafe is False


def test_estimated_archetypes_are_rated_on_a_plan():
    hybrid = Terms(currency="USD", seat_price=D("20.00"), base_fee=D(0), charges=(
        ChargeTerms(key="tasks", metric="tasks", model="per_unit", unit_price=D("0.05"),
                    included_per_seat=D(100)),))
    found = estimate(inputs())
    priced = price_profiles(found.profiles, period=NOVEMBER, books={
        SEAT_ONLY: seat_only_terms(seat_price=D("2.56"), currency="USD"), "current": hybrid})
    assert [(a.profile.name, a.bills["current"].total) for a in priced] == [
        ("light", D("20.00")), ("median", D("20.00")), ("heavy", D("25.00")),
        ("tail", D("45.00"))]  # 20 + (600 − 100) × 0.05
    assert priced[3].bills[SEAT_ONLY].margin == D("0.26")  # 2.56 − 2.304, to the cent


def test_every_archetype_needs_an_estimate():
    with pytest.raises(ValueError, match="light, median, heavy, tail"):
        inputs(actions_per_month={"light": D(1)})
    with pytest.raises(ValueError, match="calls_per_action"):
        inputs(calls_per_action=D(-1))


@pytest.mark.django_db
def test_the_model_is_priced_from_model_price_in_force():
    ModelPriceFactory()
    ModelPriceFactory(input_per_million=D("0.80"), effective_from=dt.datetime(2026, 12, 1,
                                                                             tzinfo=dt.UTC))
    price = price_of(model="gpt-4.1-mini", provider="openai",
                     at=dt.datetime(2026, 11, 15, tzinfo=dt.UTC))
    assert (price.input_per_million, price.output_per_million) == (D("0.40"), D("1.60"))
    later = price_of(model="gpt-4.1-mini", provider=None,
                     at=dt.datetime(2026, 12, 15, tzinfo=dt.UTC))
    assert later.input_per_million == D("0.80")
    with pytest.raises(UnknownModel):
        price_of(model="nope", provider=None, at=dt.datetime(2026, 11, 15, tzinfo=dt.UTC))
