"""Backtest shapes: the request (types and bounds only; the service checks the rest) and
the answer, money as exact decimal strings."""

from __future__ import annotations

from rest_framework import serializers

from common.api.fields import BoundedDateTimeField, BoundedIntegerField, MoneyField
from common.api.serializers import StrictSerializer
from invoices.lab.backtest_service import MAX_LISTED_CUSTOMERS
from invoices.lab.models import MAX_BACKTEST_PERIODS, Backtest


class BacktestStatusField(serializers.ChoiceField):
    """The backtest's status (``BacktestStatusEnum`` in the schema: ENUM_NAME_OVERRIDES)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Backtest.Status.choices, **kwargs)


class BacktestRequestSerializer(StrictSerializer):
    plan = serializers.CharField(max_length=64, help_text="The plan's code.")
    plan_version = BoundedIntegerField(
        min_value=1, help_text="The candidate: a version number of the plan, draft or published.")
    periods = BoundedIntegerField(
        min_value=1, max_value=MAX_BACKTEST_PERIODS,
        help_text="How many of each customer's latest ended periods on the plan.")
    customers = serializers.ListField(
        child=serializers.CharField(max_length=128), required=False,
        max_length=MAX_LISTED_CUSTOMERS,
        help_text="External ids; default: every customer with a contract on the plan.")


class BacktestResultSerializer(serializers.Serializer):
    customer = serializers.CharField(source="customer.external_id",
                                     help_text="The customer's external_id.")
    period_start = BoundedDateTimeField()
    period_end = BoundedDateTimeField()
    currency = serializers.CharField()
    current_version = serializers.IntegerField(
        source="current_version.version", help_text="The version the period is billed on.")
    invoiced = serializers.BooleanField(
        help_text="True: `current_total` is the period's invoice; false: its own version "
                  "rated now (no invoice yet).")
    current_total = MoneyField(currency="currency")
    candidate_total = MoneyField(currency="currency")
    change = MoneyField(currency="currency", min_value=None)
    provider_cost = MoneyField(currency="currency",
                               help_text="What the period's events cost the vendor.")
    billed_seats = serializers.DecimalField(max_digits=18, decimal_places=6)


class CustomerChangeSerializer(serializers.Serializer):
    customer = serializers.CharField()
    current_total = MoneyField(currency="currency")
    candidate_total = MoneyField(currency="currency")
    change = MoneyField(currency="currency", min_value=None)
    provider_cost = MoneyField(currency="currency")


class BacktestSummarySerializer(serializers.Serializer):
    currency = serializers.CharField()
    current_total = MoneyField(currency="currency")
    candidate_total = MoneyField(currency="currency")
    change = MoneyField(currency="currency", min_value=None)
    provider_cost = MoneyField(currency="currency")
    margin_before = MoneyField(currency="currency", min_value=None,
                               help_text="Current total minus provider cost.")
    margin_after = MoneyField(currency="currency", min_value=None,
                              help_text="Candidate total minus provider cost.")
    margin_rate_before = serializers.DecimalField(
        max_digits=12, decimal_places=4, allow_null=True,
        help_text="Margin as a share of the total; null when nothing is billed.")
    margin_rate_after = serializers.DecimalField(max_digits=12, decimal_places=4,
                                                 allow_null=True)
    customers = serializers.IntegerField()
    customers_paying_more = serializers.IntegerField()
    customers_paying_less = serializers.IntegerField()
    customers_unchanged = serializers.IntegerField()
    biggest_winners = CustomerChangeSerializer(
        many=True, help_text="Up to five customers whose bill drops the most.")
    biggest_losers = CustomerChangeSerializer(
        many=True, help_text="Up to five customers whose bill rises the most.")


class BacktestFailureSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external_id.")
    error = serializers.CharField()


class BacktestSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = BacktestStatusField()
    progress = serializers.DecimalField(
        max_digits=5, decimal_places=4, coerce_to_string=False,
        help_text="0 to 1: customers re-rated of customers chosen.")
    customers_total = serializers.IntegerField()
    customers_done = serializers.IntegerField()
    plan = serializers.CharField(source="plan.code")
    plan_version = serializers.IntegerField(source="plan_version.version")
    periods = serializers.IntegerField()
    customers = serializers.ListField(child=serializers.CharField(),
                                      help_text="As asked; empty: every customer on the plan.")
    as_of = BoundedDateTimeField(help_text="Periods ended by then are backtested.")
    error = serializers.CharField(help_text="Why the backtest failed; empty otherwise.")
    failures = BacktestFailureSerializer(many=True,
                                         help_text="Customers whose periods could not be rated.")
    created_at = BoundedDateTimeField()
    started_at = BoundedDateTimeField(allow_null=True)
    finished_at = BoundedDateTimeField(allow_null=True)
    results_count = serializers.IntegerField(
        help_text="Results in all (of `customer`, when given); `results` is one page of them.")
    next = serializers.URLField(allow_null=True,
                                help_text="The next page of `results`; null on the last.")
    results = BacktestResultSerializer(many=True, help_text=(
        "One page (`limit`, `offset`) of the results, by customer then period."))
    summary = BacktestSummarySerializer()
