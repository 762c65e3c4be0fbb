"""Invoices and their lines (SPEC section 4), billing runs, and Stripe webhook events."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import Customer
from plans.models import Contract, PlanVersion

AMOUNT = {"max_digits": 28, "decimal_places": 10}
QUANTITY = {"max_digits": 38, "decimal_places": 12}


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    class StripeState(models.TextChoices):
        OFF = "off", "Sync off"
        NOT_SYNCED = "not_synced", "Not synced"
        PENDING = "pending", "Syncing"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed (will retry)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="invoices")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=32, null=True, blank=True)
    total = models.DecimalField(default=0, **AMOUNT)
    seat_equivalents = models.DecimalField(default=0, max_digits=20, decimal_places=6)
    billed_seats = models.DecimalField(default=0, max_digits=20, decimal_places=6)
    # Charge key → value rated on this invoice, and per earlier period the values its
    # late-usage lines brought up to date; late usage is the difference from these.
    usage_snapshot = models.JSONField(default=dict, blank=True)
    late_usage_snapshots = models.JSONField(default=dict, blank=True)
    on_hold = models.BooleanField(default=False, help_text="Held drafts are not auto-finalized.")
    rated_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    stripe_invoice_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_state = models.CharField(
        max_length=16, choices=StripeState.choices, default=StripeState.NOT_SYNCED
    )
    stripe_attempts = models.PositiveIntegerField(default=0)
    stripe_error = models.TextField(blank=True)
    stripe_next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "customer_id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["customer", "period_start"]),
            models.Index(fields=["stripe_state", "stripe_next_attempt_at"]),
        ]
        constraints = [
            # A billing run twice, or twice at once, makes one invoice per contract period.
            models.UniqueConstraint(fields=["contract", "period_start"], name="invoice_one_per_period"),
            models.UniqueConstraint(
                fields=["currency", "number"], condition=Q(number__isnull=False),
                name="invoice_number_unique_per_currency",
            ),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {str(self.id)[:8]}"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        SEAT = "seat", "Seats"
        BASE_FEE = "base_fee", "Base fee"
        USAGE = "usage", "Usage"
        OVERAGE_CAP = "overage_cap", "Overage cap"
        DISCOUNT = "discount", "Discount"
        MINIMUM_COMMITMENT = "minimum_commitment", "Minimum commitment"
        LATE_USAGE = "late_usage", "Late usage"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=24, choices=Kind.choices)
    description = models.CharField(max_length=500)
    metric = models.CharField(max_length=64, blank=True)
    charge_key = models.CharField(max_length=200, blank=True)
    quantity = models.DecimalField(null=True, blank=True, **QUANTITY)
    unit_price = models.DecimalField(null=True, blank=True, **AMOUNT)
    value = models.DecimalField(null=True, blank=True, **QUANTITY)
    included = models.DecimalField(null=True, blank=True, **QUANTITY)
    billable = models.DecimalField(null=True, blank=True, **QUANTITY)
    tiers = models.JSONField(default=list, blank=True)
    amount = models.DecimalField(**AMOUNT)
    period_start = models.DateField(null=True, blank=True, help_text="Late usage: its period.")
    period_end = models.DateField(null=True, blank=True)
    stripe_invoice_item_id = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")
        ]

    def __str__(self) -> str:
        return self.description


class InvoiceNumberSequence(models.Model):
    """The last number given per currency; locked while numbering so there are no gaps."""

    currency = models.CharField(max_length=3, primary_key=True)
    last_number = models.PositiveBigIntegerField(default=0)


class BillingRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Done with failures"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    as_of = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    periods_due = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{customer, error}]")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]


class StripeEvent(models.Model):
    """A webhook delivery, stored once per Stripe event id; failures kept for replay."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=128)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"
