"""Invoice and billing-run shapes (SPEC 7). Output is built by ``invoices.documents``;
the declared fields describe it for the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers

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
    period_start = serializers.DateField(allow_null=True, help_text="Late usage: its period.")
    period_end = serializers.DateField(allow_null=True, help_text="Exclusive.")


class InvoiceSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    customer = serializers.CharField(help_text="The customer's external_id.")
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    number = serializers.CharField(allow_null=True)
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField()
    currency = serializers.CharField()
    plan = serializers.CharField()
    plan_version = serializers.IntegerField()
    lines = InvoiceLineSerializer(many=True)
    total = serializers.CharField(**MONEY)
    seat_equivalents = serializers.CharField(**NUMBER)
    billed_seats = serializers.CharField(**NUMBER)
    on_hold = serializers.BooleanField()
    contract = serializers.IntegerField()
    created_at = serializers.DateTimeField(allow_null=True)
    rated_at = serializers.DateTimeField(allow_null=True)
    finalized_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    payment_failed_at = serializers.DateTimeField(allow_null=True)
    stripe_state = serializers.CharField(allow_null=True)
    stripe_invoice_id = serializers.CharField(allow_null=True)

    def to_representation(self, instance):
        doc = instance if isinstance(instance, InvoiceDoc) else invoice_document(instance)
        return doc.as_dict()


class UpcomingInvoiceSerializer(InvoiceSerializer):
    upcoming = serializers.BooleanField(help_text="Always true: this invoice is not saved.")
    at = serializers.DateTimeField()
    invoice = serializers.UUIDField(
        allow_null=True, help_text="The period's saved invoice, when it already has one."
    )


class BillingRunRequestSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(required=False, help_text="Default: now.")


class BillingRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = BillingRun
        fields = [
            "id", "as_of", "status", "periods_due", "invoices_created", "drafts_rerated",
            "customers_total", "chunks_total", "chunks_done", "failures", "started_at",
            "finished_at",
        ]
        read_only_fields = fields
