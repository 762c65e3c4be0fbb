"""Usage events, provider prices and hourly rollups (per metric, and by dimension).

Every query on events is keyed by customer first, so the table can be distributed by
``customer_id`` (Citus) without rewriting a query; see docs/usage.md.
"""

from __future__ import annotations

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

from accounts.models import Customer
from plans.models import Metric
from plans.models.fields import price_field

COST_FIELD = {"max_digits": 28, "decimal_places": 12}


class Event(models.Model):
    """One accepted usage event. ``(customer, transaction_id)`` is the idempotency key."""

    pk = models.CompositePrimaryKey("customer_id", "transaction_id")
    # No separate index: the primary key (customer_id, transaction_id) leads with it, and
    # every extra index is paid on each ingested row.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+",
                                 db_index=False)
    transaction_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=128)
    timestamp = models.DateTimeField()
    properties = models.JSONField(default=dict)
    model = models.CharField(max_length=128, blank=True, help_text="AI model, for ai.call events.")
    seat = models.CharField(max_length=254, blank=True, help_text="Seat email, when given.")
    provider_cost = models.DecimalField(default=0, **COST_FIELD)
    unpriced = models.BooleanField(default=False, help_text="Names a model with no known price.")
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Rating, usage pages and rollups: one customer, one event type, a time range.
            models.Index(fields=["customer", "event_type", "timestamp"], name="event_cust_type_ts"),
            # The rollup job finds what arrived since its last run; BRIN is nearly free to
            # maintain because received_at only grows.
            BrinIndex(fields=["received_at"], name="event_received_brin"),
            # Reads of one customer: the events no rollup row holds yet (received at or
            # after the rollup cutoff), without walking the customer's older events.
            models.Index(fields=["customer", "received_at"], name="event_cust_received"),
            # Admin's "unpriced models" list; holds only the rare unpriced rows, so ingest
            # pays for it only when a model has no price.
            models.Index(fields=["model"], condition=Q(unpriced=True), name="event_unpriced_model"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.transaction_id}"


class ModelPrice(models.Model):
    """What a provider charges the vendor for one model, from ``effective_from`` on."""

    provider = models.CharField(max_length=64)
    model = models.CharField(max_length=128, db_index=True)
    input_per_million = price_field(default=0, help_text="USD per 1M input tokens.")
    output_per_million = price_field(default=0, help_text="USD per 1M output tokens.")
    per_call = price_field(default=0, help_text="USD per call.")
    effective_from = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model", "effective_from"], name="model_price_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.effective_from:%Y-%m-%d}"


class MetricAggregate(models.Model):
    """A metric's aggregate over one customer and span of time (``value`` is the sum,
    count or max; unique counts keep their distinct values so spans union exactly)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="+")
    value = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    event_count = models.BigIntegerField(default=0)
    distinct_values = models.JSONField(null=True, blank=True)
    provider_cost = models.DecimalField(default=0, **COST_FIELD)

    class Meta:
        abstract = True


class UsageRollup(MetricAggregate):
    """A metric over one customer-hour, kept by the rollup task: exactly the events of
    the hour received before the rollup cutoff (``usage/measure.py``)."""

    hour = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "metric", "hour"], name="rollup_unique")
        ]

    def __str__(self) -> str:
        return f"metric {self.metric_id} customer {self.customer_id} {self.hour:%Y-%m-%d %H}:00"


class UsageRollupDay(MetricAggregate):
    """The sum of a UTC day's ``UsageRollup`` rows, rewritten with them, so a read of a
    long range reads a row per day instead of 24."""

    day = models.DateTimeField(help_text="Midnight UTC.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "metric", "day"], name="rollup_day_unique")
        ]

    def __str__(self) -> str:
        return f"metric {self.metric_id} customer {self.customer_id} {self.day:%Y-%m-%d}"


class Dimension(models.TextChoices):
    """What breakdowns group events by; "" is every event of the type."""

    ALL = "", "all events"
    MODEL = "model", "model"
    SEAT = "seat", "seat"
    LATENCY_TIER = "latency_tier", "latency tier"
    INITIATED_BY = "initiated_by", "initiated by"


class SliceAggregate(models.Model):
    """A customer's events of one type over a span of time that share a value (``member``)
    of one dimension: how many, their tokens and their provider cost."""

    # No separate index: the unique indexes lead with it.
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)
    dimension = models.CharField(max_length=16, choices=Dimension.choices, blank=True)
    event_type = models.CharField(max_length=128)
    member = models.CharField(max_length=254, blank=True)
    events = models.BigIntegerField(default=0)
    input_tokens = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    output_tokens = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    total_tokens = models.DecimalField(max_digits=38, decimal_places=12, default=0)
    provider_cost = models.DecimalField(default=0, **COST_FIELD)
    unpriced = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageBreakdown(SliceAggregate):
    """One customer-hour's slice, kept by the rollup task beside ``UsageRollup`` and under
    the same cutoff. Breakdowns (and the provider cost) read these instead of the events;
    see docs/usage.md for the grain."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "dimension", "event_type", "hour", "member"],
                name="breakdown_unique",
            )
        ]

    def __str__(self) -> str:
        return (f"{self.event_type} by {self.dimension or 'all'}={self.member} customer "
                f"{self.customer_id} {self.hour:%Y-%m-%d %H}:00")


class UsageBreakdownDay(SliceAggregate):
    """The sum of a UTC day's ``UsageBreakdown`` rows, rewritten with them."""

    day = models.DateTimeField(help_text="Midnight UTC.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "dimension", "event_type", "day", "member"],
                name="breakdown_day_unique",
            )
        ]

    def __str__(self) -> str:
        return (f"{self.event_type} by {self.dimension or 'all'}={self.member} customer "
                f"{self.customer_id} {self.day:%Y-%m-%d}")


class RollupWatermark(models.Model):
    """How far the rollup task has read ``received_at``; one row."""

    name = models.CharField(max_length=32, primary_key=True)
    received_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.received_until.isoformat()}"
