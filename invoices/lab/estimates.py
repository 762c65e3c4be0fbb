"""Before launch: archetypes from estimates instead of measured usage (the article's
pre-launch method: "identify the AI calls each core user action triggers, assign a token
estimate to each call ..., and model three user archetypes").

Inputs: actions per user per month for each archetype (light, median, heavy, tail), AI
calls per action, input and output tokens per call, and the model, priced from
``usage.ModelPrice`` (the price in force at the given time) with usage's own cost
function, so an estimated call costs exactly what an ingested one would:

    cost per call  = input_tokens × input_per_million / 10⁶ + output_tokens × output_per_million / 10⁶ + per_call
    per-seat cost  = actions per month × calls per action × cost per call

The heavy user (P80) sets the recommended seat price, light and tail (P20, P95) the
verdict, as over measured customer-periods. Optionally the actions, calls and tokens
are counted by metrics of the catalog, so the archetypes can be rated on a plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from invoices.lab.archetypes import Profile
from invoices.lab.pricing import (
    ARCHETYPES,
    EXACT,
    PER_SEAT_PLACES,
    Exposure,
    Percentiles,
    Verdict,
    covered_seat_cost,
    recommended_seat_price,
    seat_only_verdict,
)
from invoices.rating.money import quantize_half_up, round_money
from usage.pricing import Price, load_price_book, price_cost

ARCHETYPE_NAMES = tuple(name for name, _ in ARCHETYPES)


class UnknownModel(ValueError):
    """No provider price for the model at that time."""


@dataclass(frozen=True)
class EstimateInputs:
    actions_per_month: Mapping[str, Decimal]  # archetype name → actions per user per month
    calls_per_action: Decimal
    input_tokens_per_call: int
    output_tokens_per_call: int
    price: Price
    action_metric: str | None = None  # metric codes that count each figure, if any
    call_metric: str | None = None
    token_metric: str | None = None

    def __post_init__(self) -> None:
        if set(self.actions_per_month) != set(ARCHETYPE_NAMES):
            raise ValueError(f"actions_per_month needs {', '.join(ARCHETYPE_NAMES)}")
        for name, value in (*self.actions_per_month.items(),
                            ("calls_per_action", self.calls_per_action),
                            ("input_tokens_per_call", self.input_tokens_per_call),
                            ("output_tokens_per_call", self.output_tokens_per_call)):
            if value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True)
class Estimate:
    call_cost: Decimal  # one call, 12 places as usage stores it
    profiles: tuple[Profile, ...]  # light, median, heavy, tail
    calls_per_month: Mapping[str, Decimal]  # per archetype
    tokens_per_month: Mapping[str, Decimal]
    seat_cost: Percentiles  # the archetypes' costs in percentile slots


def price_of(*, model: str, provider: str | None, at: dt.datetime) -> Price:
    """The model's provider price in force at ``at``."""
    price = load_price_book().price_at(model, provider or None, at)
    if price is None:
        raise UnknownModel(f"No provider price for {model!r} in force on {at.date()}.")
    return price


def estimate(inputs: EstimateInputs) -> Estimate:
    call_cost = price_cost(inputs.price, inputs.input_tokens_per_call,
                           inputs.output_tokens_per_call)
    tokens_per_call = inputs.input_tokens_per_call + inputs.output_tokens_per_call
    found = []
    calls: dict[str, Decimal] = {}
    tokens: dict[str, Decimal] = {}
    with localcontext(EXACT):
        for name, q in ARCHETYPES:
            actions = Decimal(inputs.actions_per_month[name])
            calls[name] = actions * Decimal(inputs.calls_per_action)
            tokens[name] = calls[name] * tokens_per_call
            usage = {}
            for metric, value in ((inputs.action_metric, actions),
                                  (inputs.call_metric, calls[name]),
                                  (inputs.token_metric, tokens[name])):
                if metric:
                    usage[metric] = value
            cost = quantize_half_up(calls[name] * call_cost, PER_SEAT_PLACES)
            found.append(Profile(name, q, cost, usage))
    return Estimate(
        call_cost=call_cost, profiles=tuple(found), calls_per_month=calls,
        tokens_per_month=tokens, seat_cost=Percentiles(*(p.seat_cost for p in found)),
    )


@dataclass(frozen=True)
class EstimateAdvice:
    seat_price: Decimal  # from the heavy user
    verdict: Verdict  # tail / light
    exposure: Exposure  # per seat: what each archetype costs beyond the covered cost


def advise(found: Estimate, *, target_margin: Decimal, currency: str) -> EstimateAdvice:
    """The seat price the heavy archetype implies, and what it leaves uncovered per seat
    (``money_at_stake`` here is the sum over the four archetypes, one seat each)."""
    price = recommended_seat_price(found.seat_cost.p80, target_margin=target_margin,
                                   currency=currency)
    covered = covered_seat_cost(price, target_margin=target_margin)
    above = [p for p in found.profiles if p.seat_cost > covered]
    with localcontext(EXACT):
        uncovered = sum((p.seat_cost - covered for p in above), Decimal(0))
        their_cost = sum((p.seat_cost for p in above), Decimal(0))
    return EstimateAdvice(
        seat_price=price, verdict=seat_only_verdict(found.seat_cost),
        exposure=Exposure(covered, round_money(uncovered, currency), len(above),
                          round_money(their_cost, currency)),
    )
