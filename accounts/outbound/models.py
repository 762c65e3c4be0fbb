"""Outbound webhooks: the vendor's own endpoints, signed deliveries and their attempts.

One :class:`Delivery` per (endpoint, event): the unique constraint on
``(endpoint, event_id)`` is what makes publishing an event twice (a retried task, two
workers at once) deliver it once. Every try is a :class:`DeliveryAttempt` row.
"""

from __future__ import annotations

from django.db import models

from accounts.outbound.events import EVENT_TYPES


class Endpoint(models.Model):
    """A URL of the vendor's own systems that receives the events it subscribes to."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500, help_text="Receives a signed POST per event.")
    # Kept in the clear: every delivery is signed with it (HMAC needs the key itself).
    # Generated at creation (accounts.outbound.services.endpoint_create), shown to staff.
    secret = models.CharField(max_length=80, editable=False)
    event_types = models.JSONField(
        default=list, blank=True,
        help_text="Event types sent to this endpoint; empty: every type.",
    )
    active = models.BooleanField(default=True, help_text="Inactive endpoints get no new deliveries.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def subscribes_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class Delivery(models.Model):
    """One event for one endpoint, tried until it succeeds or runs out of attempts."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64, choices=[(t, t) for t in EVENT_TYPES])
    event_id = models.CharField(max_length=200, help_text="Built from our row ids.")
    payload = models.JSONField(help_text="The body sent (the event envelope).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts in this round.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"],
                                    name="outbound_delivery_once_per_endpoint"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint.name}"


class DeliveryAttempt(models.Model):
    """One HTTP try of a delivery, whatever its outcome."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-attempted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
