"""Invoice and billing-run shapes (SPEC 7). Output is built by ``invoices.documents``;
the declared fields describe it for the OpenAPI schema. Times and dates use the shared
bounded fields, as every input and output of the API does."""

from __future__ import annotations

from rest_framework import serializers

from accounts.api.fields import BoundedDateField, BoundedDateTimeField
from accounts.api.serializers import StrictSerializer
from invoices.documents import InvoiceDoc, invoice_document
from invoices.models import BillingRun, Invoice, InvoiceLine

MONEY = {"help_text": "Decimal string with the currency's minor units, e.g. \"172.90\"."}
NUMBER = {"help_text": "Decimal string without padding, e.g. \"5200\" or \"4.322581\"."}


class TierSerializer(serializers.Serializer):
    up_to = serializers.CharField(allow_null=True, **NUMBER)
    units = serializers.CharField(**NUMBER)
    unit_price = serializers.CharField(**MONEY)
    flat_fee = serializers.CharField(**MONEY)
    amount = serializers.CharField(**MONEY)


class InvoiceLineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InvoiceLine.Kind.choices)
    description = serializers.CharField()
    quantity = serializers.CharField(allow_null=True, **NUMBER)
    unit_price = serializers.CharField(allow_null=True, **MONEY)
    amount = serializers.CharField(**MONEY)
    metric = serializers.CharField(allow_null=True)
    value = serializers.CharField(allow_null=True, **NUMBER)
    included = serializers.CharField(allow_null=True, **NUMBER)
    billable = serializers.CharField(allow_null=True, **NUMBER)
    tiers = TierSerializer(many=True)
    period_start = BoundedDateField(allow_null=True, help_text="Late usage: its period.")
    period_end = BoundedDateField(allow_null=True, help_text="Exclusive.")


class InvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    customer = serializers.CharField(help_text="The customer's external_id.")
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    number = serializers.CharField(allow_null=True)
    period_start = BoundedDateTimeField()
    period_end = BoundedDateTimeField()
    currency = serializers.CharField()
    plan = serializers.CharField()
    plan_version = serializers.IntegerField()
    lines = InvoiceLineSerializer(many=True)
    total = serializers.CharField(**MONEY)
    seat_equivalents = serializers.CharField(**NUMBER)
    billed_seats = serializers.CharField(**NUMBER)
    on_hold = serializers.BooleanField()
    contract = serializers.IntegerField()
    created_at = BoundedDateTimeField(allow_null=True)
    rated_at = BoundedDateTimeField(allow_null=True)
    finalized_at = BoundedDateTimeField(allow_null=True)
    paid_at = BoundedDateTimeField(allow_null=True)
    voided_at = BoundedDateTimeField(allow_null=True)
    payment_failed_at = BoundedDateTimeField(allow_null=True)
    stripe_state = serializers.CharField(allow_null=True)
    stripe_invoice_id = serializers.CharField(allow_null=True)

    def to_representation(self, instance):
        doc = instance if isinstance(instance, InvoiceDoc) else invoice_document(instance)
        return doc.as_dict()


class UpcomingInvoiceSerializer(InvoiceSerializer):
    upcoming = serializers.BooleanField(help_text="Always true: this invoice is not saved.")
    at = BoundedDateTimeField()
    invoice = serializers.UUIDField(
        allow_null=True, help_text="The period's saved invoice, when it already has one."
    )


class BillingRunRequestSerializer(StrictSerializer):
    as_of = BoundedDateTimeField(
        required=False,
        help_text="Default: now. Not in the future (beyond a few minutes of clock skew) "
                  "nor before the earliest contract start.",
    )


class BillingRunFailureSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external_id.")
    error = serializers.CharField()


class BillingRunSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    as_of = BoundedDateTimeField(read_only=True)
    status = serializers.ChoiceField(choices=BillingRun.Status.choices, read_only=True)
    error = serializers.CharField(read_only=True,
                                  help_text="Why the run as a whole failed; empty otherwise.")
    periods_due = serializers.IntegerField(read_only=True)
    invoices_created = serializers.IntegerField(read_only=True)
    drafts_rerated = serializers.IntegerField(read_only=True)
    customers_total = serializers.IntegerField(read_only=True)
    chunks_total = serializers.IntegerField(read_only=True)
    chunks_done = serializers.IntegerField(read_only=True)
    failures = BillingRunFailureSerializer(many=True, read_only=True)
    requested_at = BoundedDateTimeField(read_only=True)
    started_at = BoundedDateTimeField(read_only=True, allow_null=True)
    finished_at = BoundedDateTimeField(read_only=True, allow_null=True)
