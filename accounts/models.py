"""Customers, their seats, the people who log in for them, and API keys."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from common.bounds import validate_moment_in_range
from common.currencies import CURRENCY_CHOICES

external_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
    "Use 1-128 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit.",
)


class Customer(models.Model):
    external_id = models.CharField(
        max_length=128, unique=True, validators=[external_id_validator],
        help_text="The vendor's own id for this customer; used in every API path.",
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(help_text="Where invoices are sent.")
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    archived = models.BooleanField(default=False, help_text="Archived customers accept no usage.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["external_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class Seat(models.Model):
    """A named human with a login at a customer, active over ``[active_from, active_until)``."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="seats")
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True)
    active_from = models.DateTimeField(validators=[validate_moment_in_range])
    active_until = models.DateTimeField(null=True, blank=True, help_text="Empty: still active.",
                                        validators=[validate_moment_in_range])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["customer_id", "email", "active_from"]
        indexes = [models.Index(fields=["customer", "email"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(active_until__isnull=True) | Q(active_until__gt=models.F("active_from")),
                name="seat_until_after_from",
                violation_error_message="active_until must be after active_from.",
            ),
        ]

    def __str__(self) -> str:
        return self.email


class CustomerUser(models.Model):
    """Links a Django user to the one customer whose usage pages they may read."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_membership"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="users")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} @ {self.customer.external_id} ({self.role})"


class ApiKey(models.Model):
    """A bearer key. Only its SHA-256 is stored; the key itself is shown once."""

    class Scope(models.TextChoices):
        ADMIN = "admin", "Admin (every route)"
        INGEST = "ingest", "Ingest (POST /events only)"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown to recognise the key.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…, {self.scope})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
