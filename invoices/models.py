"""Invoices and their lines (SPEC section 4), billing runs, and Stripe webhook events."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from accounts.models import Customer
from invoices.rating.types import InvoiceStatus as RatingStatus
from invoices.rating.types import LineKind
from plans.models import Contract, PlanVersion

AMOUNT = {"max_digits": 28, "decimal_places": 10}
QUANTITY = {"max_digits": 38, "decimal_places": 12}


class InvoiceStatus(models.TextChoices):
    # Module level (as ``Invoice.Status``) so the constraints and guards below can name it;
    # the values are the pure engine's, with labels for people.
    DRAFT = RatingStatus.DRAFT.value, "Draft"
    FINALIZED = RatingStatus.FINALIZED.value, "Finalized"
    PAID = RatingStatus.PAID.value, "Paid"
    VOID = RatingStatus.VOID.value, "Void"


# What may still change on a finalized, paid or void invoice: payment and Stripe
# bookkeeping. Everything else (lines, amounts, number, period) is frozen. The
# PostgreSQL trigger in migration 0003 enforces the same list.
MUTABLE_AFTER_FINALIZE = frozenset({
    "status", "paid_at", "voided_at", "payment_failed_at", "stripe_invoice_id",
    "stripe_state", "stripe_attempts", "stripe_error", "stripe_next_attempt_at", "updated_at",
})
ALLOWED_TRANSITIONS = {
    InvoiceStatus.FINALIZED: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
}
LINE_MUTABLE_AFTER_FINALIZE = frozenset({"stripe_invoice_item_id"})


# The status and its timestamps agree, as lifecycle.py writes them, on every database: a
# raw UPDATE cannot make an invoice paid and void at once, or a numberless "finalized".
# A draft voided before finalizing has neither number nor finalized_at; one voided
# after finalizing keeps both.
_NUMBERED = Q(number__isnull=False, finalized_at__isnull=False)
_UNNUMBERED = Q(number__isnull=True, finalized_at__isnull=True)
STATUS_CONSTRAINTS = (
    models.CheckConstraint(
        condition=Q(status__in=InvoiceStatus.values),
        name="invoice_status_known",
        violation_error_message="Unknown invoice status.",
    ),
    models.CheckConstraint(
        condition=Q(paid_at__isnull=True) | Q(voided_at__isnull=True),
        name="invoice_never_paid_and_void",
        violation_error_message="An invoice cannot be both paid and void.",
    ),
    models.CheckConstraint(
        condition=~Q(status=InvoiceStatus.DRAFT)
        | (_UNNUMBERED & Q(paid_at__isnull=True, voided_at__isnull=True)),
        name="invoice_draft_unnumbered",
        violation_error_message="A draft has no number, finalized_at, paid_at or voided_at.",
    ),
    models.CheckConstraint(
        condition=~Q(status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.PAID]) | _NUMBERED,
        name="invoice_finalized_numbered",
        violation_error_message="A finalized or paid invoice has a number and finalized_at.",
    ),
    models.CheckConstraint(
        condition=~Q(status=InvoiceStatus.VOID) | _NUMBERED | _UNNUMBERED,
        name="invoice_void_numbered_iff_finalized",
        violation_error_message="A void invoice has both number and finalized_at, or neither.",
    ),
    models.CheckConstraint(
        condition=Q(status=InvoiceStatus.PAID, paid_at__isnull=False)
        | (~Q(status=InvoiceStatus.PAID) & Q(paid_at__isnull=True)),
        name="invoice_paid_at_iff_paid",
        violation_error_message="paid_at is set exactly when the invoice is paid.",
    ),
    models.CheckConstraint(
        condition=Q(status=InvoiceStatus.VOID, voided_at__isnull=False)
        | (~Q(status=InvoiceStatus.VOID) & Q(voided_at__isnull=True)),
        name="invoice_voided_at_iff_void",
        violation_error_message="voided_at is set exactly when the invoice is void.",
    ),
)


class StripeIdWriteOnceError(ValidationError):
    """A Stripe id, once stored, names the remote object for good: re-pointing it would
    orphan the Stripe copy (and its payments). Migration 0005 enforces it in PostgreSQL."""

    def __init__(self, field: str, stored: str):
        super().__init__({field: [
            f"{field} is already {stored!r} and is set once; it cannot change."
        ]})


def check_write_once(field: str, stored: str, new: str) -> None:
    if stored and new != stored:
        raise StripeIdWriteOnceError(field, stored)


def _refuse_rewrites(queryset: models.QuerySet, field: str, new) -> None:
    stored = (queryset.exclude(**{field: ""}).exclude(**{field: new}).order_by()
              .values_list(field, flat=True).first())
    if stored is not None:
        raise StripeIdWriteOnceError(field, stored)


class InvoiceImmutableError(ValidationError):
    """Raised by the model layer when something tries to change a non-draft invoice."""

    def __init__(self, message: str = ""):
        super().__init__({"status": [
            message or "Only a draft invoice can change; finalized, paid and void invoices "
            "are immutable."
        ]})


def _transition_allowed(old: str, new: str) -> bool:
    return old == new or old == InvoiceStatus.DRAFT or new in ALLOWED_TRANSITIONS.get(old, ())


class InvoiceQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # Model-layer twin of the PostgreSQL trigger, so SQLite and every ORM path agree.
        if "stripe_invoice_id" in kwargs:
            _refuse_rewrites(self, "stripe_invoice_id", kwargs["stripe_invoice_id"])
        frozen = self.exclude(status=InvoiceStatus.DRAFT)
        if set(kwargs) - MUTABLE_AFTER_FINALIZE and frozen.exists():
            raise InvoiceImmutableError()
        if "status" in kwargs:
            new = kwargs["status"]
            if not isinstance(new, str):
                if frozen.exists():
                    raise InvoiceImmutableError("Set a literal status on non-draft invoices.")
            else:
                olds = frozen.exclude(status=new).order_by().values_list("status", flat=True)
                for old in olds.distinct():
                    if not _transition_allowed(old, new):
                        raise InvoiceImmutableError(f"A {old} invoice cannot become {new}.")
        return super().update(**kwargs)

    def delete(self):
        if self.exclude(status=InvoiceStatus.DRAFT).exists():
            raise InvoiceImmutableError("Only draft invoices can be deleted; void it instead.")
        return super().delete()


class Invoice(models.Model):
    Status = InvoiceStatus

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
    # NULL, not "": the per-currency unique constraint must ignore unnumbered drafts.
    number = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001
    total = models.DecimalField(default=0, **AMOUNT)
    seat_equivalents = models.DecimalField(default=0, max_digits=20, decimal_places=6)
    billed_seats = models.DecimalField(default=0, max_digits=20, decimal_places=6)
    # Charge key → value rated on this invoice, and per earlier period the values its
    # late-usage lines brought up to date; late usage is the difference from these.
    usage_snapshot = models.JSONField(default=dict, blank=True)
    late_usage_snapshots = models.JSONField(default=dict, blank=True)
    # The contract's negotiated terms when rated, so late usage for this period is
    # priced on this period's terms even after the contract's overrides change.
    overrides = models.JSONField(default=dict, blank=True)
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

    objects = InvoiceQuerySet.as_manager()

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
            *STATUS_CONSTRAINTS,
        ]

    def __str__(self) -> str:
        return self.number or f"{self.status} {str(self.id)[:8]}"

    def save(self, *args, **kwargs):
        # Immutability is an invariant of the data, so the model layer guards it too:
        # whatever path a write takes (admin, API, shell), a finalized invoice keeps
        # its lines and amounts.
        if not self._state.adding:
            self._check_frozen_fields(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def _check_frozen_fields(self, update_fields) -> None:
        names = (
            [f.attname for f in self._meta.concrete_fields] if update_fields is None
            else [self._meta.get_field(n).attname for n in update_fields]
        )
        stored = Invoice.objects.filter(pk=self.pk).values(*names, "status").first()
        if stored is None:
            return
        if "stripe_invoice_id" in stored:
            check_write_once("stripe_invoice_id", stored["stripe_invoice_id"],
                             self.stripe_invoice_id)
        if stored["status"] == InvoiceStatus.DRAFT:
            return
        if not _transition_allowed(stored["status"], self.status):
            raise InvoiceImmutableError(f"A {stored['status']} invoice cannot become {self.status}.")
        changed = [
            n for n in names
            if n not in MUTABLE_AFTER_FINALIZE and getattr(self, n) != stored[n]
        ]
        if changed:
            raise InvoiceImmutableError(
                f"{self} is {stored['status']}; {', '.join(sorted(changed))} cannot change."
            )

    def delete(self, *args, **kwargs):
        stored = Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
        if stored is not None and stored != InvoiceStatus.DRAFT:
            raise InvoiceImmutableError("Only draft invoices can be deleted; void it instead.")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == self.Status.DRAFT


def _ensure_drafts(invoice_ids) -> None:
    ids = {i for i in invoice_ids if i is not None}
    if ids and Invoice.objects.filter(pk__in=ids).exclude(status=InvoiceStatus.DRAFT).exists():
        raise InvoiceImmutableError("Lines of a finalized, paid or void invoice cannot change.")


class InvoiceLineQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if "stripe_invoice_item_id" in kwargs:
            _refuse_rewrites(self, "stripe_invoice_item_id", kwargs["stripe_invoice_item_id"])
        if set(kwargs) - LINE_MUTABLE_AFTER_FINALIZE:
            if self.exclude(invoice__status=InvoiceStatus.DRAFT).exists():
                raise InvoiceImmutableError(
                    "Lines of a finalized, paid or void invoice cannot change."
                )
            if "invoice" in kwargs or "invoice_id" in kwargs:
                target = kwargs.get("invoice_id", kwargs.get("invoice"))
                _ensure_drafts([getattr(target, "pk", target)])
        return super().update(**kwargs)

    def delete(self):
        if self.exclude(invoice__status=InvoiceStatus.DRAFT).exists():
            raise InvoiceImmutableError("Lines of a finalized, paid or void invoice cannot change.")
        return super().delete()

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        _ensure_drafts({obj.invoice_id for obj in objs})
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        objs = list(objs)
        if "stripe_invoice_item_id" in fields:
            stored = dict(InvoiceLine.objects.filter(pk__in=[obj.pk for obj in objs])
                          .values_list("pk", "stripe_invoice_item_id"))
            for obj in objs:
                check_write_once("stripe_invoice_item_id", stored.get(obj.pk, ""),
                                 obj.stripe_invoice_item_id)
        if set(fields) - LINE_MUTABLE_AFTER_FINALIZE:
            _ensure_drafts({obj.invoice_id for obj in objs})
        return super().bulk_update(objs, fields, *args, **kwargs)


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        # The engine's kinds (pure, ORM-free) with labels for people.
        SEAT = LineKind.SEAT.value, "Seats"
        BASE_FEE = LineKind.BASE_FEE.value, "Base fee"
        USAGE = LineKind.USAGE.value, "Usage"
        OVERAGE_CAP = LineKind.OVERAGE_CAP.value, "Overage cap"
        DISCOUNT = LineKind.DISCOUNT.value, "Discount"
        MINIMUM_COMMITMENT = LineKind.MINIMUM_COMMITMENT.value, "Minimum commitment"
        LATE_USAGE = LineKind.LATE_USAGE.value, "Late usage"

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

    objects = InvoiceLineQuerySet.as_manager()

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")
        ]

    def __str__(self) -> str:
        return self.description

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if self._state.adding:
            _ensure_drafts([self.invoice_id])
        else:
            stored = InvoiceLine.objects.filter(pk=self.pk).values(
                "invoice_id", "stripe_invoice_item_id").first() or {}
            if update_fields is None or "stripe_invoice_item_id" in update_fields:
                check_write_once("stripe_invoice_item_id",
                                 stored.get("stripe_invoice_item_id", ""),
                                 self.stripe_invoice_item_id)
            if update_fields is None or set(update_fields) - LINE_MUTABLE_AFTER_FINALIZE:
                _ensure_drafts([self.invoice_id, stored.get("invoice_id")])
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        _ensure_drafts([self.invoice_id])
        return super().delete(*args, **kwargs)


class InvoiceNumberSequence(models.Model):
    """The last number given per currency; locked while numbering so there are no gaps."""

    currency = models.CharField(max_length=3, primary_key=True)
    last_number = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.currency}: {self.last_number}"


class BillingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Done with failures"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    as_of = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    periods_due = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    drafts_rerated = models.PositiveIntegerField(
        default=0, help_text="Drafts whose lines changed because usage or seats changed."
    )
    customers_total = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{customer, error}]")
    error = models.TextField(blank=True, help_text="Why the run as a whole failed, if it did.")
    requested_at = models.DateTimeField(help_text="When the run was asked for.")
    started_at = models.DateTimeField(null=True, blank=True, help_text="Empty while queued.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"billing run as of {self.as_of:%Y-%m-%d %H:%M} ({self.status})"


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
