"""Pieces shared by the plans admin: audited history, number display, confirm pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.template.response import TemplateResponse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from common.decimals import format_decimal, tidy
from plans.models import Charge, PlanVersion


def today() -> dt.date:
    """Contracts and versions work in UTC calendar days (SPEC section 1)."""
    return timezone.now().astimezone(dt.UTC).date()


def fmt_money(value: Decimal | None) -> str:
    """30.0000000000 → 30.00, 0.0000040000 → 0.000004: prices keep 10 places in the DB."""
    return "—" if value is None else format_decimal(value, min_places=2)


def fmt_quantity(value: Decimal | None) -> str:
    """1000000.000000 → 1,000,000: grouped, for reading long counts in a list."""
    return "—" if value is None else format(tidy(value), ",f")


def money_display(field: str, description: str | None = None):
    """An admin display method showing a price field trimmed, for read-only views."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, obj) -> str:
        return fmt_money(getattr(obj, field))

    return display


def quantity_display(field: str, description: str | None = None):
    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, obj) -> str:
        return fmt_quantity(getattr(obj, field))

    return display


class TrimmedDecimalField(forms.DecimalField):
    """Shows stored decimals without the trailing zeros of ``decimal_places=10``."""

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return format_decimal(value)
        return value


DECIMAL_OVERRIDES = {
    models.DecimalField: {"form_class": TrimmedDecimalField},
    models.JSONField: {"widget": forms.Textarea(attrs={"rows": 1, "cols": 24})},
}
# Tabular inlines: narrower number inputs so a charge row fits beside the admin's nav.
INLINE_OVERRIDES = {
    **DECIMAL_OVERRIDES,
    models.DecimalField: {"form_class": TrimmedDecimalField,
                          "widget": forms.NumberInput(attrs={"style": "width: 8em"})},
    models.PositiveIntegerField: {"widget": forms.NumberInput(attrs={"style": "width: 5em"})},
    models.JSONField: {"widget": forms.Textarea(attrs={"rows": 1, "cols": 12})},
}


def without_related_buttons(formfield):
    """Drop the add/change/delete/view icons Django puts beside a foreign key select."""
    widget = getattr(formfield, "widget", None)
    for name in ("can_add_related", "can_change_related", "can_delete_related",
                 "can_view_related"):
        if hasattr(widget, name):
            setattr(widget, name, False)
    return formfield


class AuditedAdmin(SimpleHistoryAdmin):
    """History is an audit trail: who changed what, viewable, never reverted from here.

    Reverting would write a row past the services (and past their rules), so the revert
    form is view-only.
    """

    formfield_overrides = DECIMAL_OVERRIDES

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


def render_confirmation(request, model_admin: admin.ModelAdmin, *, title: str, question: str,
                        details: list[str], confirm_label: str, cancel_url: str,
                        obj: models.Model | None = None, warnings: list[str] | None = None):
    """A confirm-then-POST page like Django's delete confirmation, for object actions."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "question": question,
        "details": details,
        "warnings": warnings or [],
        "confirm_label": confirm_label,
        "cancel_url": cancel_url,
        "opts": model_admin.opts,
        "app_label": model_admin.opts.app_label,
        "object": obj,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/plans/confirm_action.html", context)


# --- one-line summaries of the catalog, for lists and confirm pages -------------------------

def version_label(version: PlanVersion) -> str:
    return (f"{version.plan.code} v{version.version} · {version.currency} · "
            f"{version.get_billing_interval_display().lower()} · from "
            f"{version.effective_from.isoformat()} · {version.get_status_display().lower()}")


def tiers_summary(charge: Charge) -> str:
    parts = []
    for tier in charge.tiers.all():
        bound = f"≤ {fmt_quantity(tier.up_to)}" if tier.up_to is not None else "rest"
        fee = f" + {fmt_money(tier.flat_fee)}" if tier.flat_fee else ""
        parts.append(f"{bound} @ {fmt_money(tier.unit_price)}{fee}")
    return "; ".join(parts)


def price_summary(charge: Charge) -> str:
    if charge.model == Charge.Model.PER_UNIT:
        return f"{fmt_money(charge.unit_price)} per unit"
    if charge.model == Charge.Model.PACKAGE:
        return f"{fmt_money(charge.package_price)} per {charge.package_size or '?'} units"
    return tiers_summary(charge) or "no tiers yet"


def allowance_summary(charge: Charge) -> str:
    parts = []
    if charge.included_units:
        parts.append(f"{fmt_quantity(charge.included_units)} included")
    if charge.included_per_seat is not None:
        parts.append(f"{fmt_quantity(charge.included_per_seat)} per seat")
    return ", ".join(parts) or "—"
