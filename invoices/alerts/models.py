"""Usage alerts: thresholds per customer and each crossing, sent once per period.

A customer with no usage-percent threshold rows gets the defaults (80 % and 100 % of
every allowance; ``invoices.alerts.rules.DEFAULT_PERCENTS``); a customer with no
recipient rows is alerted at its billing email. docs/alerts.md says why.
"""

from __future__ import annotations

from django.db import models

from accounts.models import Customer


class AlertThreshold(models.Model):
    class Kind(models.TextChoices):
        USAGE_PERCENT = "usage_percent", "Usage, % of each allowance"
        SPEND = "spend", "Bill so far reaches"
        PROJECTED_SPEND = "projected_spend", "Projected bill reaches"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alert_thresholds")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # A percentage (usage_percent) or an amount in the customer's currency (the others).
    value = models.DecimalField(max_digits=18, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer_id", "kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "kind", "value"],
                                    name="alert_threshold_once"),
            models.CheckConstraint(condition=models.Q(value__gt=0), name="alert_threshold_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.customer.external_id}: {self.get_kind_display()} {self.value}"


class AlertRecipient(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alert_recipients")
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer_id", "email"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "email"], name="alert_recipient_once"),
        ]

    def __str__(self) -> str:
        return self.email


class AlertCrossing(models.Model):
    """A threshold crossed in a period: the row *is* the "sent once" guarantee (unique
    per customer, threshold key and period start), written before anything is sent."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alert_crossings")
    key = models.CharField(max_length=120, help_text="What was crossed, e.g. usage:tasks:80.")
    kind = models.CharField(max_length=20, choices=AlertThreshold.Kind.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    threshold = models.DecimalField(max_digits=18, decimal_places=2)
    charge_key = models.CharField(max_length=64, blank=True)
    metric = models.CharField(max_length=64, blank=True)
    description = models.CharField(max_length=200, blank=True)
    value = models.DecimalField(max_digits=30, decimal_places=10,
                                help_text="Usage (units) or amount when it was noticed.")
    allowance = models.DecimalField(max_digits=30, decimal_places=10, null=True, blank=True)
    currency = models.CharField(max_length=3)
    crossed_at = models.DateTimeField()
    recipients = models.JSONField(default=list, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-crossed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "key", "period_start"],
                                    name="alert_crossing_once_per_period"),
        ]
        indexes = [models.Index(fields=["customer", "period_start"])]

    def __str__(self) -> str:
        return f"{self.customer.external_id} {self.key} ({self.period_start:%Y-%m-%d})"
