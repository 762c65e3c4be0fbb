"""Admin for plan versions: drafts edited through the services, publish and copy
actions and buttons, and a view-only page once published (SPEC section 3)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from common.admin import ServiceAdminMixin, ServiceModelForm
from plans.admin.base import (
    INLINE_OVERRIDES,
    AuditedAdmin,
    allowance_summary,
    fmt_money,
    money_display,
    price_summary,
    quantity_display,
    render_confirmation,
    tiers_summary,
    today,
    version_label,
    without_related_buttons,
)
from plans.charge_rules import TIERED, charge_errors, filters_error
from plans.models import Charge, Contract, Metric, PlanVersion
from plans.services import (
    plan_version_copy,
    plan_version_create,
    plan_version_publish,
    plan_version_update,
)
from plans.services.catalog import VERSION_FIELDS

# --- plan versions -------------------------------------------------------------------------


class PlanVersionForm(ServiceModelForm):
    class Meta:
        model = PlanVersion
        fields = ["plan", "effective_from", "currency", "billing_interval", "seat_price",
                  "base_fee"]

    def service_call(self) -> PlanVersion:
        if self.adding:
            return plan_version_create(
                plan=self.cleaned_data["plan"],
                **{name: self.cleaned_data[name] for name in self.fields if name in VERSION_FIELDS},
            )
        return plan_version_update(version=self.instance, **self.changes(VERSION_FIELDS))


def charge_spec_errors(form: forms.ModelForm, data: dict) -> None:
    """Check one charge row with the pricing rules the API and the engine use, and put
    the errors on its fields. Its tiers are checked on the charge's own page."""
    if not data.get("metric") or not data.get("model"):
        return
    spec = {name: data.get(name) for name in (
        "model", "unit_price", "package_size", "package_price", "included_per_seat")}
    spec["included_units"] = data.get("included_units") or 0
    for name, errors in charge_errors(spec).items():
        if not name.startswith("tiers"):
            form.add_error(name if name in form.fields else None, errors)
    if (message := filters_error(data.get("filters") or {})) is not None:
        form.add_error("filters", message)


class ChargeForm(forms.ModelForm):
    class Meta:
        model = Charge
        fields = ["metric", "model", "unit_price", "package_size", "package_price",
                  "included_units", "included_per_seat", "filters", "position"]

    def clean_filters(self) -> dict:
        return self.cleaned_data.get("filters") or {}

    def clean(self) -> dict:
        data = super().clean()
        charge_spec_errors(self, data)
        return data


class ChargeInline(admin.TabularInline):
    model = Charge
    form = ChargeForm
    extra = 0
    show_change_link = True
    formfield_overrides = INLINE_OVERRIDES
    verbose_name_plural = "Charges (tiers: save, then open the charge with “Change”)"
    readonly_fields = ("tiers_",)
    edit_fields = ("metric", "model", "unit_price", "package_size", "package_price",
                   "included_units", "included_per_seat", "filters", "position", "tiers_")
    view_fields = ("metric", "model", "unit_price_", "package_size", "package_price_",
                   "included_units_", "included_per_seat_", "filters", "tiers_")
    unit_price_ = money_display("unit_price", "unit price")
    package_price_ = money_display("package_price", "package price")
    included_units_ = quantity_display("included_units", "included units")
    included_per_seat_ = quantity_display("included_per_seat", "included per seat")

    @admin.display(description="tiers")
    def tiers_(self, charge: Charge) -> str:
        if charge.pk is None or charge.model not in TIERED:
            return "—"
        return tiers_summary(charge) or "none yet"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("metric").prefetch_related("tiers")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return without_related_buttons(super().formfield_for_dbfield(db_field, request,
                                                                     **kwargs))

    def get_fields(self, request, obj=None):
        return self.view_fields if obj is not None and obj.is_published else self.edit_fields

    def get_readonly_fields(self, request, obj=None):
        return self.view_fields if obj is not None and obj.is_published else self.readonly_fields

    def _editable(self, obj) -> bool:
        return obj is None or not obj.is_published

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


@admin.register(PlanVersion)
class PlanVersionAdmin(ServiceAdminMixin, AuditedAdmin):
    form = PlanVersionForm
    # Fits 1366 px: plan and version are in the name, publishing in the status.
    list_display = ("__str__", "status", "effective_from", "currency", "billing_interval",
                    "seat_price_", "base_fee_", "charge_count", "contract_count")
    list_filter = ("plan", "status", ("currency", admin.AllValuesFieldListFilter),
                   "billing_interval")
    search_fields = ("plan__code", "plan__name")
    list_select_related = ("plan",)
    inlines = (ChargeInline,)
    actions = ("publish", "create_next_version")
    seat_price_ = money_display("seat_price", "seat price")
    base_fee_ = money_display("base_fee", "base fee")
    info_fields = ("status", "published_at", "contracts_link", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _charges=Count("charges", distinct=True),
            _contracts=Count("contracts", distinct=True,
                             filter=Q(contracts__status=Contract.Status.ACTIVE)),
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("plan", "effective_from", "currency", "billing_interval",
                                       "seat_price", "base_fee")}),)
        prices = ("seat_price_", "base_fee_") if obj.is_published else ("seat_price", "base_fee")
        terms = ("effective_from", "currency", "billing_interval")
        return (
            (None, {"fields": ("plan", "version", *terms, *prices)}),
            ("Status", {"fields": self.info_fields}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if obj.is_published:
            return ("plan", "version", "effective_from", "currency", "billing_interval",
                    "seat_price_", "base_fee_", *self.info_fields)
        return ("plan", "version", *self.info_fields)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        plan_id = initial.get("plan")
        latest = PlanVersion.objects.filter(plan_id=plan_id).order_by("-version").first()
        if latest is not None:  # start from the plan's terms: most new versions keep them
            initial.setdefault("currency", latest.currency)
            initial.setdefault("billing_interval", latest.billing_interval)
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "metric":
            kwargs["queryset"] = Metric.objects.order_by("code")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False  # immutable: a new price is a new version (SPEC section 3)
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Charges", ordering="_charges")
    def charge_count(self, version: PlanVersion) -> int:
        return version._charges

    @admin.display(description="Active contracts", ordering="_contracts")
    def contract_count(self, version: PlanVersion) -> int:
        return version._contracts

    @admin.display(description="Contracts")
    def contracts_link(self, version: PlanVersion) -> str:
        url = reverse("admin:plans_contract_changelist") + f"?plan_version__id__exact={version.pk}"
        count = version.contracts.count()
        return format_html('<a href="{}">{} contract(s) pinned to this version →</a>', url, count)

    # -- publish and copy: list actions, and buttons on the change page ----------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/publish/", wrap(self.publish_view),
                 name="plans_planversion_publish"),
            path("<path:object_id>/copy/", wrap(self.copy_view), name="plans_planversion_copy"),
            *super().get_urls(),
        ]

    def _publish(self, request, version: PlanVersion) -> bool:
        try:
            plan_version_publish(version=version, now=timezone.now())
        except ValidationError as error:
            self.message_user(request, f"{version} was not published: {_describe(error)}",
                              messages.ERROR)
            return False
        return True

    def _copy(self, request, version: PlanVersion) -> PlanVersion | None:
        try:
            return plan_version_copy(version=version,
                                     effective_from=max(today(), version.effective_from))
        except ValidationError as error:
            self.message_user(request, f"{version} could not be copied: {_describe(error)}",
                              messages.ERROR)
            return None

    @admin.action(description="Publish selected draft versions (makes them immutable)")
    def publish(self, request, queryset):
        published = [v for v in queryset.select_related("plan")
                     if not v.is_published and self._publish(request, v)]
        if published:
            self.message_user(request, f"Published {', '.join(map(str, published))}.",
                              messages.SUCCESS)
        elif not queryset.filter(status=PlanVersion.Status.DRAFT).exists():
            self.message_user(request, "Nothing to publish: those versions are already "
                              "published.", messages.WARNING)

    @admin.action(description="Create next version (a draft copy to edit and publish)")
    def create_next_version(self, request, queryset):
        copies = [c for c in (self._copy(request, v) for v in queryset.select_related("plan"))
                  if c is not None]
        for new in copies:
            url = reverse("admin:plans_planversion_change", args=[new.pk])
            self.message_user(request, format_html(
                'Created draft <a href="{}">{}</a>: set its effective date and prices, then '
                "publish it.", url, new), messages.SUCCESS)
        if len(copies) == 1:
            return HttpResponseRedirect(reverse("admin:plans_planversion_change",
                                                args=[copies[0].pk]))
        return None

    def publish_view(self, request, object_id):
        version = get_object_or_404(PlanVersion.objects.select_related("plan"), pk=object_id)
        change_url = reverse("admin:plans_planversion_change", args=[version.pk])
        if version.is_published:
            self.message_user(request, f"{version} is already published.", messages.WARNING)
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            if self._publish(request, version):
                self.message_user(request, f"Published {version}.", messages.SUCCESS)
            return HttpResponseRedirect(change_url)
        charges = list(version.charges.select_related("metric").prefetch_related("tiers"))
        details = [
            f"{version_label(version)}",
            f"Seat price {fmt_money(version.seat_price)}, base fee {fmt_money(version.base_fee)}",
            *(f"Charge {c.metric.code}: {price_summary(c)}"
              + (f"; {allowance_summary(c)}" if allowance_summary(c) != "—" else "")
              for c in charges),
        ]
        warnings = []
        if version.effective_from <= today():
            warnings.append("Its effective date is today or earlier: it becomes the plan's "
                            f"current {version.currency} version for new contracts and "
                            "“latest” renewals at once.")
        return render_confirmation(
            request, self, obj=version, title=f"Publish {version}",
            question=f"Publish {version}? A published version can never change again.",
            details=details, warnings=warnings, confirm_label="Yes, publish it",
            cancel_url=change_url,
        )

    def copy_view(self, request, object_id):
        version = get_object_or_404(PlanVersion.objects.select_related("plan"), pk=object_id)
        change_url = reverse("admin:plans_planversion_change", args=[version.pk])
        if request.method == "POST":
            new = self._copy(request, version)
            if new is None:
                return HttpResponseRedirect(change_url)
            self.message_user(request, f"Created draft {new} from {version}: set its "
                              "effective date and prices, then publish it.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:plans_planversion_change", args=[new.pk]))
        return render_confirmation(
            request, self, obj=version, title=f"Create the next version of {version.plan.code}",
            question=f"Copy {version} (prices, charges and tiers) into a new draft version?",
            details=[version_label(version)], confirm_label="Yes, create the draft",
            cancel_url=change_url,
        )


def _describe(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(ValidationError(errs).messages)}"
                         for name, errs in error.error_dict.items())
    return " ".join(error.messages)
