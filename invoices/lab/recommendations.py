"""Recommendations over a sample of customer-periods, each with the numbers behind it,
and the one write the lab makes from them: a draft plan version to backtest.

- **Seat price** = P(k) of per-seat cost / (1 − target margin), rounded up to the
  currency's minor unit (k 80, margin 0.7 by default).
- **Allowance** per seat for each metric = its per-seat usage at the chosen share
  (0.8) of customer-periods, i.e. that percentile, rounded up to a whole unit; with it,
  that share of customer-periods never reaches overage.
- **Seat-only verdict**: unsafe when P95 / P20 of per-seat cost exceeds 10, with the money
  at stake at the recommended seat price (``pricing.exposure``; docs/lab.md), over every
  customer-period, those with 0 billed seats too: a seat price covers none of their cost.

``recommend`` is pure; ``recommendation_draft`` writes through plans' services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from invoices.lab.pricing import (
    Exposure,
    Percentiles,
    Sample,
    Verdict,
    exposure,
    percentile,
    recommended_allowance,
    recommended_seat_price,
    seat_only_verdict,
)
from plans.models import Plan, PlanVersion
from plans.selectors import plan_current_version
from plans.services import plan_version_copy, plan_version_update
from plans.services.catalog import charge_specs

DEFAULT_PERCENTILE = 80
DEFAULT_TARGET_MARGIN = Decimal("0.7")
DEFAULT_SHARE = Decimal("0.8")


class EmptySample(ValueError):
    """No customer-period with billed seats: nothing to recommend from."""


@dataclass(frozen=True)
class Recommendation:
    currency: str
    customer_periods: int
    zero_seat_periods: int
    percentile: int
    target_margin: Decimal
    share: Decimal
    seat_cost: Percentiles  # P20/P50/P80/P95 of per-seat cost
    seat_cost_at_percentile: Decimal  # P(k)
    seat_price: Decimal
    usage_at_share: Mapping[str, Decimal]  # per metric: per-seat usage at the share
    included_per_seat: Mapping[str, int]  # the same, rounded up
    within_allowance: Mapping[str, int]  # customer-periods at or under each allowance
    verdict: Verdict
    exposure: Exposure


def recommend(sample: Sample, *, percentile_k: int = DEFAULT_PERCENTILE,
              target_margin: Decimal = DEFAULT_TARGET_MARGIN,
              share: Decimal = DEFAULT_SHARE) -> Recommendation:
    if not sample.periods:
        raise EmptySample("No ended customer-period with billed seats to recommend from.")
    if not Decimal(0) < share <= 1:
        raise ValueError(f"share must be above 0 and at most 1, not {share}")
    costs = sample.seat_costs()
    at_k = percentile(costs, percentile_k)
    price = recommended_seat_price(at_k, target_margin=target_margin, currency=sample.currency)
    usage_at_share: dict[str, Decimal] = {}
    allowances: dict[str, int] = {}
    within: dict[str, int] = {}
    for metric in sample.metrics:
        usages = sample.seat_usages(metric)
        usage_at_share[metric] = percentile(usages, share * 100)
        allowances[metric] = recommended_allowance(usage_at_share[metric])
        within[metric] = sum(1 for u in usages if u <= allowances[metric])
    cost = Percentiles.of(costs)
    return Recommendation(
        currency=sample.currency,
        customer_periods=len(sample.periods),
        zero_seat_periods=sample.zero_seat_periods,
        percentile=percentile_k,
        target_margin=target_margin,
        share=share,
        seat_cost=cost,
        seat_cost_at_percentile=at_k,
        seat_price=price,
        usage_at_share=usage_at_share,
        included_per_seat=allowances,
        within_allowance=within,
        verdict=seat_only_verdict(cost),
        exposure=exposure((*sample.periods, *sample.zero_seat), seat_price=price,
                          target_margin=target_margin, currency=sample.currency),
    )


def draft_source(*, plan: Plan, currency: str, today: dt.date) -> PlanVersion:
    """The version a recommendation's draft copies: the plan's current one in the
    sample's currency, else its latest version in that currency."""
    version = plan_current_version(plan=plan, today=today, currency=currency)
    if version is None:
        version = plan.versions.filter(currency=currency).order_by("-version").first()
    if version is None:
        raise ValidationError({"plan": [f"Plan {plan.code!r} has no version in {currency}."]})
    return version


def recommended_charges(version: PlanVersion, included: Mapping[str, int]) -> list[dict]:
    """The version's charges, with the recommended allowance on every charge of a
    recommended metric that grants a per-seat allowance or has none at all. A charge
    with its own filters measures less than its metric and keeps its allowance."""
    specs = charge_specs(version=version)
    for spec in specs:
        if spec["metric"] in included and not spec.get("filters"):
            spec["included_per_seat"] = included[spec["metric"]]
    return specs


@transaction.atomic
def recommendation_draft(*, plan: Plan, recommendation: Recommendation,
                         today: dt.date) -> PlanVersion:
    """A draft version of ``plan``: its current version with the recommended seat price
    and allowances, effective today until ops set otherwise; backtest it, then publish."""
    source = draft_source(plan=plan, currency=recommendation.currency, today=today)
    draft = plan_version_copy(version=source, effective_from=today)
    return plan_version_update(
        version=draft, seat_price=recommendation.seat_price,
        charges=recommended_charges(source, recommendation.included_per_seat),
    )
