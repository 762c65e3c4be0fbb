"""Shapes for metrics, plans, plan versions and contracts (SPEC section 7).

Input serializers check types and turn codes into rows; the services own the rules.
Nested charges are handed to the service as sent, so its errors keep their flat
``charges[1].tiers[0].up_to`` names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.selectors import customer_get
from common.api.fields import (
    BoundedDateField,
    BoundedDateTimeField,
    BoundedIntegerField,
    MoneyField,
    QuantityField,
)
from common.api.serializers import StrictSerializer
from common.bounds import MAX_INTEGER, MAX_NOTICE_DAYS, MAX_PACKAGE_SIZE, MAX_SEATS
from plans.models import Charge, Contract, ContractMigration, Metric, PlanVersion
from plans.selectors import (
    current_version_among,
    plan_current_version,
    plan_get,
    plan_version_get,
)

UNKNOWN_FIELD = "Unknown field."
# Integer columns are 32-bit (PositiveIntegerField) everywhere; bigger numbers are a 400.
MAX_POSITIVE_INT = MAX_INTEGER

# --- metrics ---------------------------------------------------------------------------


class MetricSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    event_type = serializers.CharField(read_only=True)
    aggregation = serializers.ChoiceField(choices=Metric.Aggregation.choices, read_only=True)
    field = serializers.SerializerMethodField()
    filters = serializers.DictField(read_only=True)
    created_at = BoundedDateTimeField(read_only=True)

    def get_field(self, metric: Metric) -> str | None:
        return metric.field or None


class MetricCreateSerializer(StrictSerializer):
    read_only_names = frozenset({"created_at"})

    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                        help_text="What it counts, for people.")
    event_type = serializers.CharField(max_length=128)
    aggregation = serializers.ChoiceField(choices=Metric.Aggregation.choices)
    field = serializers.CharField(max_length=128, required=False, allow_blank=True, allow_null=True,
                                  help_text="The property aggregated; none for count.")
    filters = serializers.DictField(required=False,
                                    help_text="Property → value an event must match.")


class MetricUpdateSerializer(MetricCreateSerializer):
    code = None
    read_only_names = frozenset({"created_at"})
    refused_fields: ClassVar[dict[str, str]] = {
        "code": "code cannot be changed: plan versions and usage reports name the metric by it.",
    }


# --- plans and versions ----------------------------------------------------------------


class PlanTierSerializer(serializers.Serializer):
    up_to = QuantityField(read_only=True, allow_null=True)
    unit_price = MoneyField(read_only=True, currency="charge.plan_version.currency")
    flat_fee = MoneyField(read_only=True, currency="charge.plan_version.currency")


class PlanChargeSerializer(serializers.Serializer):
    metric = serializers.CharField(source="metric.code", read_only=True)
    model = serializers.ChoiceField(choices=Charge.Model.choices, read_only=True)
    unit_price = MoneyField(read_only=True, allow_null=True, currency="plan_version.currency")
    package_size = serializers.IntegerField(read_only=True, allow_null=True)
    package_price = MoneyField(read_only=True, allow_null=True, currency="plan_version.currency")
    included_units = QuantityField(read_only=True)
    included_per_seat = QuantityField(read_only=True, allow_null=True)
    filters = serializers.DictField(read_only=True)
    tiers = PlanTierSerializer(many=True, read_only=True)


class PlanVersionSerializer(serializers.Serializer):
    plan = serializers.CharField(source="plan.code", read_only=True)
    version = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=PlanVersion.Status.choices, read_only=True)
    effective_from = BoundedDateField(read_only=True)
    currency = serializers.CharField(read_only=True)
    billing_interval = serializers.ChoiceField(choices=PlanVersion.Interval.choices, read_only=True)
    seat_price = MoneyField(read_only=True, currency="currency")
    base_fee = MoneyField(read_only=True, currency="currency")
    charges = PlanChargeSerializer(many=True, read_only=True)
    published_at = BoundedDateTimeField(read_only=True, allow_null=True)
    created_at = BoundedDateTimeField(read_only=True)


class PlanVersionSummarySerializer(serializers.Serializer):
    version = serializers.IntegerField(read_only=True)
    # A plain string: the same enum in two components makes the schema's enum names ambiguous.
    status = serializers.CharField(read_only=True, help_text="draft or published")
    effective_from = BoundedDateField(read_only=True)
    currency = serializers.CharField(read_only=True)
    billing_interval = serializers.ChoiceField(choices=PlanVersion.Interval.choices, read_only=True)
    published_at = BoundedDateTimeField(read_only=True, allow_null=True)


class PlanSerializer(serializers.Serializer):
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    current_version = serializers.SerializerMethodField(
        help_text="The latest published version in effect today (UTC): the one new contracts "
                  "get unless they name another. Null until a version is in effect.")
    versions = PlanVersionSummarySerializer(many=True, read_only=True)
    created_at = BoundedDateTimeField(read_only=True)

    def get_current_version(self, plan) -> int | None:
        current = current_version_among(plan.versions.all(), today=self.context["today"])
        return current.version if current is not None else None


class PlanCreateSerializer(StrictSerializer):
    read_only_names = frozenset(PlanSerializer().fields)

    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)


# The nested charge and tier shapes. They document the body and check the type and size
# of each value sent (a price with 11 places or 30 digits cannot be stored); the service
# checks everything else, so the values reach it exactly as sent.
class PlanTierWriteSerializer(serializers.Serializer):
    up_to = QuantityField(required=False, allow_null=True,
                          help_text="Inclusive upper bound; null on the last tier.")
    unit_price = MoneyField(required=False, allow_null=True)
    flat_fee = MoneyField(required=False, allow_null=True)


class PlanChargeWriteSerializer(serializers.Serializer):
    metric = serializers.CharField(help_text="A metric code.")
    model = serializers.ChoiceField(choices=Charge.Model.choices)
    unit_price = MoneyField(required=False, allow_null=True, help_text="per_unit only.")
    package_size = BoundedIntegerField(required=False, allow_null=True, min_value=1,
                                       max_value=MAX_PACKAGE_SIZE, help_text="package only.")
    package_price = MoneyField(required=False, allow_null=True, help_text="package only.")
    included_units = QuantityField(required=False, allow_null=True)
    included_per_seat = QuantityField(required=False, allow_null=True)
    filters = serializers.DictField(required=False, allow_null=True)
    tiers = PlanTierWriteSerializer(many=True, required=False, allow_null=True,
                                    help_text="graduated and volume only.")


@extend_schema_field(PlanChargeWriteSerializer(many=True))
class ChargesField(serializers.Field):
    """The nested charges, passed through as sent (the service checks them)."""

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list):
            raise serializers.ValidationError("charges must be a list of charge objects.")
        return data

    def to_representation(self, value: Any) -> Any:
        return value


def _messages(error: serializers.ValidationError) -> list[str]:
    detail = error.detail
    return [str(m) for m in detail] if isinstance(detail, list) else [str(detail)]


def _shape_errors(data: dict, shape: serializers.Serializer, prefix: str) -> dict[str, list[str]]:
    """Unknown keys and badly typed values of one nested object, named by their path."""
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        field = shape.fields.get(key)
        if field is None:
            errors[f"{prefix}.{key}"] = [UNKNOWN_FIELD]
        elif key != "tiers":
            try:
                field.run_validation(value)
            except serializers.ValidationError as error:
                errors[f"{prefix}.{key}"] = _messages(error)
    return errors


def charge_shape_errors(charges: list) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    charge_shape, tier_shape = PlanChargeWriteSerializer(), PlanTierWriteSerializer()
    for index, charge in enumerate(charges):
        if not isinstance(charge, dict):
            continue  # the service names it
        errors |= _shape_errors(charge, charge_shape, f"charges[{index}]")
        tiers = charge.get("tiers")
        for position, tier in enumerate(tiers if isinstance(tiers, list) else []):
            if isinstance(tier, dict):
                errors |= _shape_errors(tier, tier_shape, f"charges[{index}].tiers[{position}]")
    return errors


class PlanVersionWriteSerializer(StrictSerializer):
    read_only_names = frozenset(PlanVersionSerializer().fields)
    refused_fields: ClassVar[dict[str, str]] = {
        "status": "Publish with POST /plans/{code}/versions/{version}/publish.",
        "version": "Version numbers are assigned in sequence.",
    }

    effective_from = BoundedDateField()
    currency = serializers.CharField(max_length=3, required=False, help_text="Default USD.")
    billing_interval = serializers.ChoiceField(choices=PlanVersion.Interval.choices, required=False)
    seat_price = MoneyField(required=False)
    base_fee = MoneyField(required=False)
    charges = ChargesField(required=False, help_text="On PATCH, replaces every charge.")

    def validate(self, attrs: dict) -> dict:
        errors = charge_shape_errors(attrs.get("charges") or [])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- contracts -------------------------------------------------------------------------


class ContractMigrationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    contract = serializers.IntegerField(source="contract_id", read_only=True)
    plan = serializers.CharField(source="plan_version.plan.code", read_only=True)
    plan_version = serializers.IntegerField(source="plan_version.version", read_only=True)
    effective_date = BoundedDateField(read_only=True)
    notice_days = serializers.IntegerField(read_only=True)
    scheduled_on = BoundedDateField(read_only=True)
    status = serializers.ChoiceField(choices=ContractMigration.Status.choices, read_only=True)
    pending = serializers.SerializerMethodField(
        help_text="Scheduled and not yet in effect: the customer sees it as an upcoming change."
    )
    created_at = BoundedDateTimeField(read_only=True)

    def get_pending(self, migration: ContractMigration) -> bool:
        return (migration.status == ContractMigration.Status.SCHEDULED
                and migration.effective_date > self.context["today"])


class ContractSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    plan = serializers.CharField(source="plan_version.plan.code", read_only=True)
    plan_version = serializers.IntegerField(source="plan_version.version", read_only=True)
    status = serializers.ChoiceField(choices=Contract.Status.choices, read_only=True)
    start_date = BoundedDateField(read_only=True)
    end_date = BoundedDateField(read_only=True, allow_null=True)
    anchor_date = BoundedDateField(read_only=True)
    auto_renew = serializers.BooleanField(read_only=True)
    renewal = serializers.ChoiceField(choices=Contract.Renewal.choices, read_only=True)
    committed_seats = serializers.IntegerField(read_only=True)
    seat_price = MoneyField(read_only=True, allow_null=True, currency="customer.currency")
    base_fee = MoneyField(read_only=True, allow_null=True, currency="customer.currency")
    included_per_seat = QuantityField(read_only=True, allow_null=True)
    discount_percent = QuantityField(read_only=True, allow_null=True)
    overage_cap = MoneyField(read_only=True, allow_null=True, currency="customer.currency")
    minimum_commitment = MoneyField(read_only=True, allow_null=True, currency="customer.currency")
    renewed_from = serializers.IntegerField(source="renewed_from_id", read_only=True,
                                            allow_null=True)
    migrations = ContractMigrationSerializer(many=True, read_only=True, source="migrations.all")
    created_at = BoundedDateTimeField(read_only=True)
    updated_at = BoundedDateTimeField(read_only=True)


# The fields a contract's terms can set, at creation and later.
class ContractTermsSerializer(StrictSerializer):
    read_only_names = frozenset(ContractSerializer().fields)

    end_date = BoundedDateField(required=False, allow_null=True,
                                     help_text="The term's last day (inclusive); null = evergreen.")
    auto_renew = serializers.BooleanField(required=False)
    renewal = serializers.ChoiceField(choices=Contract.Renewal.choices, required=False)
    committed_seats = BoundedIntegerField(max_value=MAX_SEATS, required=False)
    seat_price = MoneyField(required=False, allow_null=True)
    base_fee = MoneyField(required=False, allow_null=True)
    included_per_seat = QuantityField(required=False, allow_null=True)
    discount_percent = QuantityField(required=False, allow_null=True, max_digits=7,
                                     decimal_places=4, max_value=100)
    overage_cap = MoneyField(required=False, allow_null=True)
    minimum_commitment = MoneyField(required=False, allow_null=True)


class ContractUpdateSerializer(ContractTermsSerializer):
    refused_fields: ClassVar[dict[str, str]] = {
        name: "This field cannot be changed; schedule a migration "
              "(POST /contracts/{id}/migrations) to change the plan version."
        for name in ("plan", "plan_version")
    } | {
        name: "This field cannot be changed; end this contract and start a new one."
        for name in ("customer", "start_date")
    }


class ContractCreateSerializer(ContractTermsSerializer):
    customer = serializers.CharField(help_text="The customer's external_id.")
    plan = serializers.CharField(help_text="The plan's code.")
    plan_version = BoundedIntegerField(
        min_value=1, required=False, allow_null=True,
        help_text="Default: the plan's current version (latest published, in force today).",
    )
    start_date = BoundedDateField()

    def validate(self, attrs: dict) -> dict:
        """Turn codes into rows; unknown ones are 400s naming the field they came in."""
        errors: dict[str, list[str]] = {}
        customer = customer_get(external_id=attrs["customer"])
        if customer is None:
            errors["customer"] = [f"No customer with external_id {attrs['customer']!r}."]
        plan = plan_get(code=attrs.pop("plan"))
        if plan is None:
            errors["plan"] = [f"No plan with code {self.initial_data.get('plan')!r}."]
        number = attrs.get("plan_version")
        if plan is not None and number is not None:
            attrs["plan_version"] = plan_version_get(plan=plan, version=number)
            if attrs["plan_version"] is None:
                errors["plan_version"] = [f"Plan {plan.code!r} has no version {number}."]
        elif plan is not None and customer is not None:
            today: dt.date = self.context["today"]
            attrs["plan_version"] = plan_current_version(plan=plan, today=today,
                                                         currency=customer.currency)
            if attrs["plan_version"] is None:
                errors["plan_version"] = [
                    f"Plan {plan.code!r} has no published {customer.currency} version in force "
                    f"on {today.isoformat()}; name a plan_version."
                ]
        if errors:
            raise serializers.ValidationError(errors)
        attrs["customer"] = customer
        return attrs


class ContractMigrationCreateSerializer(StrictSerializer):
    read_only_names = frozenset(ContractMigrationSerializer().fields) - {"plan", "plan_version"}

    plan = serializers.CharField(
        required=False, help_text="The plan's code; default: the plan the contract is on today."
    )
    plan_version = BoundedIntegerField(min_value=1)
    effective_date = BoundedDateField(help_text="A later period start of the contract.")
    notice_days = BoundedIntegerField(max_value=MAX_NOTICE_DAYS, required=False,
                                      help_text="Default 30; at most 3650.")

    def validate(self, attrs: dict) -> dict:
        if "plan" in attrs:
            plan = plan_get(code=attrs.pop("plan"))
            if plan is None:
                raise serializers.ValidationError(
                    {"plan": [f"No plan with code {self.initial_data.get('plan')!r}."]}
                )
        else:
            plan = self.context["current_plan"]
        number = attrs["plan_version"]
        attrs["plan_version"] = plan_version_get(plan=plan, version=number)
        if attrs["plan_version"] is None:
            raise serializers.ValidationError(
                {"plan_version": [f"Plan {plan.code!r} has no version {number}."]}
            )
        return attrs
