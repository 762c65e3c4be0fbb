"""Shapes of the pricing lab's archetypes and recommendations API.

Inputs are bounded (``common.api.fields``); answers carry decimals as strings: per-seat
costs and prices with the currency's minor units (further places only when they carry
a digit), usage without padding, allowances as whole numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.api.fields import BoundedIntegerField, QuantityField
from common.api.serializers import StrictSerializer
from common.decimals import format_decimal, format_money
from invoices.lab.customer_periods import MAX_PERIODS
from invoices.lab.recommendations import DEFAULT_PERCENTILE, DEFAULT_SHARE, DEFAULT_TARGET_MARGIN

DEFAULT_PERIODS = 3
MAX_MARGIN = Decimal("0.99")


@extend_schema_field({"type": "string", "format": "decimal", "example": "0.8"})
class FractionField(QuantityField):
    """A share or margin between 0 and 1, with four places at most."""


class PricingPlanPeriodsSerializer(StrictSerializer):
    plan = serializers.CharField(max_length=64, help_text="The plan's code.")
    periods = BoundedIntegerField(
        min_value=1, max_value=MAX_PERIODS, default=DEFAULT_PERIODS,
        help_text="How many of each customer's latest ended periods on the plan.")


class PricingRecommendationRequestSerializer(PricingPlanPeriodsSerializer):
    percentile = BoundedIntegerField(
        min_value=0, max_value=100, default=DEFAULT_PERCENTILE,
        help_text="The percentile of per-seat cost the seat price covers.")
    target_margin = FractionField(
        max_digits=5, decimal_places=4, max_value=MAX_MARGIN, default=DEFAULT_TARGET_MARGIN,
        help_text="Target gross margin, 0 to 0.99: seat price = P(k) cost / (1 − margin).")
    share = FractionField(
        max_digits=5, decimal_places=4, min_value=Decimal("0.01"), max_value=Decimal(1),
        default=DEFAULT_SHARE,
        help_text="Share of customer-periods each allowance covers without overage.")


@extend_schema_field({"type": "string", "format": "decimal", "example": "26.00"})
class AmountField(serializers.Field):
    """An amount in the answer's currency (``context["currency"]``)."""

    def to_representation(self, value: Any) -> str:
        return format_money(value, currency=self.context.get("currency"))


@extend_schema_field({"type": "string", "format": "decimal", "example": "260"})
class ExactField(serializers.Field):
    def to_representation(self, value: Any) -> str:
        return format_decimal(value)


class PricingSeatCostSerializer(serializers.Serializer):
    p20 = AmountField(help_text="Light users: the 20th percentile.")
    p50 = AmountField(help_text="Median users.")
    p80 = AmountField(help_text="Heavy users.")
    p95 = AmountField(help_text="The tail.")


class PricingSeatUsageSerializer(serializers.Serializer):
    p20 = ExactField()
    p50 = ExactField()
    p80 = ExactField()
    p95 = ExactField()


class PricingArchetypesSerializer(serializers.Serializer):
    plan = serializers.CharField()
    periods = serializers.IntegerField()
    currency = serializers.CharField()
    customer_periods = serializers.IntegerField(
        help_text="Customer-periods with billed seats the percentiles are taken over.")
    zero_seat_periods = serializers.IntegerField(
        help_text="Customer-periods with 0 billed seats, left out of per-seat figures.")
    seat_cost = PricingSeatCostSerializer(
        allow_null=True, help_text="Percentiles of provider cost per billed seat; null "
                                   "without customer-periods.")
    seat_usage = serializers.DictField(
        child=PricingSeatUsageSerializer(),
        help_text="Per metric code, percentiles of usage per billed seat.")


class PricingRecommendationSerializer(serializers.Serializer):
    plan = serializers.CharField()
    periods = serializers.IntegerField()
    currency = serializers.CharField()
    customer_periods = serializers.IntegerField()
    zero_seat_periods = serializers.IntegerField()
    percentile = serializers.IntegerField()
    target_margin = ExactField()
    share = ExactField()
    seat_cost = PricingSeatCostSerializer()
    seat_cost_at_percentile = AmountField(help_text="P(k) of per-seat cost.")
    seat_price = AmountField(
        help_text="P(k) per-seat cost / (1 − target margin), rounded up to the minor unit.")
    usage_at_share = serializers.DictField(
        child=ExactField(), help_text="Per metric, the per-seat usage at the share.")
    included_per_seat = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Per metric, the recommended allowance per seat: usage_at_share rounded up.")
    within_allowance = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Per metric, customer-periods whose per-seat usage is within the allowance.")
    spread = ExactField(allow_null=True,
                        help_text="P95 / P20 of per-seat cost, 2 places; null when P20 is 0.")
    seat_only_unsafe = serializers.BooleanField(
        help_text="True when P95 exceeds 10 × P20: one seat price cannot fit everyone.")
    money_at_stake = AmountField(
        help_text="Σ over customer-periods of max(0, provider cost − billed seats × "
                  "seat_price × (1 − target margin)).")
    covered_seat_cost = AmountField(
        help_text="seat_price × (1 − target margin): the cost per seat the price covers.")
    periods_above = serializers.IntegerField(
        help_text="Customer-periods costing more than their seats cover.")
    cost_of_periods_above = AmountField(help_text="Their whole provider cost.")


def archetypes_data(*, plan: str, periods: int, currency: str, found) -> dict:
    """The answer of GET /pricing/archetypes from a ``pricing.Distribution``."""
    return {"plan": plan, "periods": periods, "currency": currency,
            "customer_periods": found.customer_periods,
            "zero_seat_periods": found.zero_seat_periods,
            "seat_cost": found.seat_cost, "seat_usage": dict(found.seat_usage)}


def recommendation_data(*, plan: str, periods: int, found) -> dict:
    """The answer of GET /pricing/recommendations from a ``Recommendation``."""
    return {
        "plan": plan, "periods": periods, "currency": found.currency,
        "customer_periods": found.customer_periods,
        "zero_seat_periods": found.zero_seat_periods, "percentile": found.percentile,
        "target_margin": found.target_margin, "share": found.share,
        "seat_cost": found.seat_cost, "seat_cost_at_percentile": found.seat_cost_at_percentile,
        "seat_price": found.seat_price, "usage_at_share": dict(found.usage_at_share),
        "included_per_seat": dict(found.included_per_seat),
        "within_allowance": dict(found.within_allowance),
        "spread": found.verdict.spread, "seat_only_unsafe": found.verdict.unsafe,
        "money_at_stake": found.exposure.money_at_stake,
        "covered_seat_cost": found.exposure.covered_seat_cost,
        "periods_above": found.exposure.periods_above,
        "cost_of_periods_above": found.exposure.their_cost,
    }
