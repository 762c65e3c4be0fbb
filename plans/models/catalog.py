"""The catalog: metrics, plans and their immutable price books (plan versions)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from common.currencies import CURRENCY_CHOICES
from plans.charge_rules import ChargeModel
from plans.models.fields import price_field, quantity_field
from plans.periods import MONTH, YEAR

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]{0,63}$",
    "Use 1-64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit.",
)


class PublishedVersionError(ValidationError):
    """Raised by the model layer when something tries to change a published version."""

    def __init__(self, version: PlanVersion | None = None):
        label = f"{version.plan.code} v{version.version}" if version is not None else "It"
        super().__init__(
            f"{label} is published and immutable: publish a new version to change prices."
        )


class Metric(models.Model):
    class Aggregation(models.TextChoices):
        SUM = "sum", "Sum of a property"
        COUNT = "count", "Count of events"
        MAX = "max", "Maximum of a property"
        UNIQUE_COUNT = "unique_count", "Distinct values of a property"

    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="What it counts, for people; "
                                   "may change at any time.")
    event_type = models.CharField(max_length=128, db_index=True)
    aggregation = models.CharField(max_length=16, choices=Aggregation.choices)
    field = models.CharField(max_length=128, blank=True, help_text="Property aggregated; none for count.")
    filters = models.JSONField(default=dict, blank=True, help_text="Property → value an event must match.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Plan(models.Model):
    code = models.CharField(max_length=64, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class FrozenWhenPublishedQuerySet(models.QuerySet):
    """Bulk ``update()``/``delete()`` refuse rows that belong to a published version."""

    # Lookup from this model to its version's status, set by each subclass.
    status_lookup = "status"

    def _refuse_published(self) -> None:
        if self.filter(**{self.status_lookup: PlanVersion.Status.PUBLISHED}).exists():
            raise PublishedVersionError()

    def update(self, **kwargs):
        self._refuse_published()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_published()
        return super().delete()


class PlanVersionQuerySet(FrozenWhenPublishedQuerySet):
    def published(self):
        return self.filter(status=PlanVersion.Status.PUBLISHED)


class PlanVersion(models.Model):
    """An immutable price book once published; a new price is a new version."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    class Interval(models.TextChoices):
        MONTH = MONTH, "Monthly"
        YEAR = YEAR, "Yearly"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    effective_from = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="USD")
    billing_interval = models.CharField(max_length=8, choices=Interval.choices, default=MONTH)
    seat_price = price_field(default=0, validators=[MinValueValidator(0)])
    base_fee = price_field(default=0, validators=[MinValueValidator(0)])
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    objects = PlanVersionQuerySet.as_manager()

    class Meta:
        ordering = ["plan__code", "version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="plan_version_unique"),
            models.CheckConstraint(condition=Q(seat_price__gte=0), name="plan_version_seat_price_gte_0"),
            models.CheckConstraint(condition=Q(base_fee__gte=0), name="plan_version_base_fee_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} v{self.version}"

    def save(self, *args, **kwargs):
        # Immutability is an invariant of the data, so the model layer guards it too:
        # whatever path a write takes (admin, API, shell), a published row never changes.
        if self.pk is not None:
            stored = PlanVersion.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.PUBLISHED:
                raise PublishedVersionError(self)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_published:
            raise PublishedVersionError(self)
        return super().delete(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


def _ensure_version_is_draft(plan_version_id: int | None) -> None:
    if plan_version_id is None:
        return
    version = PlanVersion.objects.filter(pk=plan_version_id).select_related("plan").first()
    if version is not None and version.is_published:
        raise PublishedVersionError(version)


class ChargeQuerySet(FrozenWhenPublishedQuerySet):
    status_lookup = "plan_version__status"


class Charge(models.Model):
    class Model(models.TextChoices):
        # The pricing rules' models (pure, shared with the engine) with labels for people.
        PER_UNIT = ChargeModel.PER_UNIT.value, "Per unit"
        PACKAGE = ChargeModel.PACKAGE.value, "Package"
        GRADUATED = ChargeModel.GRADUATED.value, "Graduated tiers"
        VOLUME = ChargeModel.VOLUME.value, "Volume tiers"

    plan_version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="charges")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="charges")
    model = models.CharField(max_length=16, choices=Model.choices)
    unit_price = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    package_size = models.PositiveIntegerField(null=True, blank=True)
    package_price = price_field(null=True, blank=True, validators=[MinValueValidator(0)])
    included_units = quantity_field(default=0, validators=[MinValueValidator(0)])
    included_per_seat = quantity_field(null=True, blank=True, validators=[MinValueValidator(0)])
    filters = models.JSONField(default=dict, blank=True, help_text="Extra property → value filters.")
    position = models.PositiveIntegerField(default=0)
    history = HistoricalRecords()

    objects = ChargeQuerySet.as_manager()

    class Meta:
        ordering = ["plan_version_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.metric.code} ({self.get_model_display()})"

    def save(self, *args, **kwargs):
        _ensure_version_is_draft(self.plan_version_id)
        if self.pk is not None:
            _ensure_version_is_draft(
                Charge.objects.filter(pk=self.pk).values_list("plan_version_id", flat=True).first()
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _ensure_version_is_draft(self.plan_version_id)
        return super().delete(*args, **kwargs)


class ChargeTierQuerySet(FrozenWhenPublishedQuerySet):
    status_lookup = "charge__plan_version__status"


class ChargeTier(models.Model):
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="tiers")
    position = models.PositiveIntegerField(default=0)
    up_to = quantity_field(null=True, blank=True, help_text="Inclusive upper bound; empty = no limit.")
    unit_price = price_field(default=0, validators=[MinValueValidator(0)])
    flat_fee = price_field(default=0, validators=[MinValueValidator(0)])
    history = HistoricalRecords()

    objects = ChargeTierQuerySet.as_manager()

    class Meta:
        ordering = ["charge_id", "position", "id"]

    def __str__(self) -> str:
        return f"up to {self.up_to if self.up_to is not None else '∞'} at {self.unit_price}"

    def save(self, *args, **kwargs):
        _ensure_version_is_draft(self._version_id())
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _ensure_version_is_draft(self._version_id())
        return super().delete(*args, **kwargs)

    def _version_id(self) -> int | None:
        return (
            Charge.objects.filter(pk=self.charge_id).values_list("plan_version_id", flat=True).first()
        )
