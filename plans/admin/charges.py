"""Admin for one charge of a draft version and its tiers (Django has no nested inlines,
so the version's charge rows link here)."""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse

from plans.admin.base import (
    INLINE_OVERRIDES,
    AuditedAdmin,
    allowance_summary,
    money_display,
    price_summary,
    quantity_display,
)
from plans.admin.versions import ChargeForm
from plans.charge_rules import TIERED, charge_errors
from plans.models import Charge, ChargeTier, PlanVersion

# --- charges and their tiers ---------------------------------------------------------------

_TIER_KEY = re.compile(r"tiers(?:\[(\d+)\]\.(\w+))?")


class TierFormSet(BaseInlineFormSet):
    """Validates the tiers together, in up_to order, with the API's rules."""

    def rows(self) -> list[forms.ModelForm]:
        rows = [form for form in self.forms
                if form.cleaned_data and not self._should_delete_form(form)]
        # Tiers must increase anyway, so their order is their up_to (the open tier last).
        return sorted(rows, key=lambda form: (form.cleaned_data.get("up_to") is None,
                                              form.cleaned_data.get("up_to") or 0))

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        charge, rows = self.instance, self.rows()
        if charge.model not in TIERED:
            if rows:
                raise ValidationError(f"{charge.get_model_display()} charges take no tiers: "
                                      "delete them or change the model.")
            return
        spec = {"model": charge.model,
                "tiers": [{name: form.cleaned_data.get(name)
                           for name in ("up_to", "unit_price", "flat_fee")} for form in rows]}
        general = []
        for key, errors in charge_errors(spec).items():
            match = _TIER_KEY.fullmatch(key)
            if match is None:
                continue  # the charge's own fields are checked by its form
            if match.group(1) is None:
                general.extend(errors)
            else:
                rows[int(match.group(1))].add_error(match.group(2), errors)
        if general:
            raise ValidationError(general)

    def save(self, commit: bool = True):
        saved = super().save(commit)
        if commit:
            for position, form in enumerate(self.rows()):
                if form.instance.pk and form.instance.position != position:
                    form.instance.position = position
                    form.instance.save(update_fields=["position"])
        return saved


class ChargeTierInline(admin.TabularInline):
    model = ChargeTier
    formset = TierFormSet
    fields = ("up_to", "unit_price", "flat_fee")
    extra = 0
    formfield_overrides = INLINE_OVERRIDES
    verbose_name_plural = "Tiers (up_to is inclusive; leave it empty on the last tier)"
    view_fields = ("up_to_", "unit_price_", "flat_fee_")
    up_to_ = quantity_display("up_to", "up to")
    unit_price_ = money_display("unit_price", "unit price")
    flat_fee_ = money_display("flat_fee", "flat fee")

    def _published(self, obj) -> bool:
        return obj is not None and obj.plan_version.is_published

    def get_fields(self, request, obj=None):
        return self.view_fields if self._published(obj) else self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.view_fields if self._published(obj) else ()

    def has_add_permission(self, request, obj=None):
        return not self._published(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._published(obj) and super().has_delete_permission(request, obj)


class ChargeAdminForm(ChargeForm):
    class Meta(ChargeForm.Meta):
        fields = ["plan_version", *ChargeForm.Meta.fields]


@admin.register(Charge)
class ChargeAdmin(AuditedAdmin):
    form = ChargeAdminForm
    list_display = ("__str__", "plan_version", "model", "prices", "allowance", "position")
    list_filter = ("plan_version__plan", "plan_version__status", "model", "metric")
    search_fields = ("metric__code", "plan_version__plan__code")
    list_select_related = ("plan_version__plan", "metric")
    inlines = (ChargeTierInline,)
    edit_fields = ("plan_version", "metric", "model", "unit_price", "package_size",
                   "package_price", "included_units", "included_per_seat", "filters", "position")
    view_fields = ("plan_version", "metric", "model", "unit_price_", "package_size",
                   "package_price_", "included_units_", "included_per_seat_", "filters",
                   "position")
    unit_price_ = money_display("unit_price", "unit price")
    package_price_ = money_display("package_price", "package price")
    included_units_ = quantity_display("included_units", "included units")
    included_per_seat_ = quantity_display("included_per_seat", "included per seat")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tiers")

    def _published(self, obj) -> bool:
        return obj is not None and obj.plan_version.is_published

    def get_fields(self, request, obj=None):
        return self.view_fields if self._published(obj) else self.edit_fields

    def get_readonly_fields(self, request, obj=None):
        if self._published(obj):
            return self.view_fields
        return ("plan_version",) if obj is not None else ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "plan_version":
            kwargs["queryset"] = PlanVersion.objects.filter(
                status=PlanVersion.Status.DRAFT).select_related("plan")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        return not self._published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._published(obj) and super().has_delete_permission(request, obj)

    def response_post_save_change(self, request, obj):
        # Back to the version: the charge is edited as part of it.
        return HttpResponseRedirect(
            reverse("admin:plans_planversion_change", args=[obj.plan_version_id]))

    @admin.display(description="Prices")
    def prices(self, charge: Charge) -> str:
        return price_summary(charge)

    @admin.display(description="Allowance")
    def allowance(self, charge: Charge) -> str:
        return allowance_summary(charge)
