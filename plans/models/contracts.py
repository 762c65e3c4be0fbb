"""Contracts pin a customer to a plan version, with negotiated overrides.

Contracts live in ``plans`` because they join a customer (accounts) to a price book
(plans); invoicing and usage read them but never the other way round.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from accounts.models import Customer
from plans.models.catalog import PlanVersion
from plans.models.fields import price_field, quantity_field

DEFAULT_NOTICE_DAYS = 30


# The statuses sit at module level (as ``Contract.Status`` and ``ContractMigration.Status``)
# so the partial unique constraints in each ``Meta`` can name them.
class ContractStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    CANCELED = "canceled", "Canceled"


class MigrationStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CANCELED = "canceled", "Canceled"


class Contract(models.Model):
    Status = ContractStatus

    class Renewal(models.TextChoices):
        GRANDFATHER = "grandfather", "Grandfather (keep the pinned version)"
        LATEST = "latest", "Latest (move to the plan's current version)"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contracts")
    plan_version = models.ForeignKey(
        PlanVersion, on_delete=models.PROTECT, related_name="contracts",
        help_text="The pinned version; scheduled migrations change it from their effective date.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="The term's last day (inclusive); empty = evergreen."
    )
    anchor_date = models.DateField(
        help_text="Periods are anchored on this day; renewals keep the first term's anchor."
    )
    auto_renew = models.BooleanField(default=True)
    renewal = models.CharField(max_length=16, choices=Renewal.choices, default=Renewal.GRANDFATHER)
    committed_seats = models.PositiveIntegerField(default=0)
    seat_price = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    base_fee = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    included_per_seat = quantity_field(null=True, blank=True, validators=[MinValueValidator(0)])
    discount_percent = models.DecimalField(
        max_digits=7, decimal_places=4, null=True, blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    overage_cap = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    minimum_commitment = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    renewed_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewed_by",
        help_text="The previous term; unique, so a renewal can only happen once.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-start_date", "id"]
        indexes = [models.Index(fields=["status", "end_date"])]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(status=ContractStatus.ACTIVE),
                name="contract_one_active_per_customer",
                violation_error_message="This customer already has an active contract.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gt=F("start_date")),
                name="contract_end_after_start",
                violation_error_message="end_date must be after start_date.",
            ),
            models.CheckConstraint(
                condition=Q(discount_percent__isnull=True)
                | (Q(discount_percent__gte=0) & Q(discount_percent__lte=100)),
                name="contract_discount_0_100",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer.external_id} on {self.plan_version}"


class ContractMigration(models.Model):
    """A scheduled move of a contract to another version, from a period start."""

    Status = MigrationStatus

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="migrations")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="+")
    effective_date = models.DateField(help_text="A period start of the contract.")
    notice_days = models.PositiveIntegerField(default=DEFAULT_NOTICE_DAYS)
    scheduled_on = models.DateField(help_text="The day ops scheduled it; notice counts from here.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract_id", "effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "effective_date"], condition=Q(status=MigrationStatus.SCHEDULED),
                name="migration_one_per_contract_date",
                violation_error_message="A migration is already scheduled for that date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} → {self.plan_version} on {self.effective_date}"
