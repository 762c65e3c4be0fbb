"""Staff admin for usage alerts: thresholds and recipients (added through the services,
like the portal's Alerts page), and every crossing with its email outcome (read-only:
a crossing is a record of what was sent)."""

from __future__ import annotations

from django.contrib import admin

from common.admin import ServiceAdminMixin, ServiceModelForm
from common.decimals import format_decimal
from invoices.alerts.models import AlertCrossing, AlertRecipient, AlertThreshold
from invoices.alerts.services import alert_recipient_create, alert_threshold_create


class ThresholdForm(ServiceModelForm):
    class Meta:
        model = AlertThreshold
        fields = ["customer", "kind", "value"]

    def service_call(self) -> AlertThreshold:
        return alert_threshold_create(**{name: self.cleaned_data[name] for name in self.fields})


class RecipientForm(ServiceModelForm):
    class Meta:
        model = AlertRecipient
        fields = ["customer", "email"]

    def service_call(self) -> AlertRecipient:
        return alert_recipient_create(**{name: self.cleaned_data[name] for name in self.fields})


class _AddOrDelete(ServiceAdminMixin, admin.ModelAdmin):
    """Rows are added or deleted, never edited (a changed threshold is another one)."""

    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)


@admin.register(AlertThreshold)
class AlertThresholdAdmin(_AddOrDelete):
    form = ThresholdForm
    list_display = ("customer", "kind", "shown_value", "created_at")
    list_filter = ("kind",)
    search_fields = ("customer__external_id", "customer__name")

    @admin.display(description="Value", ordering="value")
    def shown_value(self, row: AlertThreshold) -> str:
        value = format_decimal(row.value)
        return f"{value} %" if row.kind == AlertThreshold.Kind.USAGE_PERCENT else (
            f"{row.customer.currency} {format_decimal(row.value, min_places=2)}")


@admin.register(AlertRecipient)
class AlertRecipientAdmin(_AddOrDelete):
    form = RecipientForm
    list_display = ("customer", "email", "created_at")
    search_fields = ("customer__external_id", "customer__name", "email")


@admin.register(AlertCrossing)
class AlertCrossingAdmin(admin.ModelAdmin):
    list_display = ("crossed_at", "customer", "description", "period_start", "emailed_at",
                    "email_error")
    list_filter = ("kind", "crossed_at")
    search_fields = ("customer__external_id", "customer__name", "key")
    list_select_related = ("customer",)
    date_hierarchy = "crossed_at"
    readonly_fields = ("customer", "key", "kind", "description", "period_start", "period_end",
                       "threshold", "shown_value", "shown_allowance", "currency", "crossed_at",
                       "recipients", "emailed_at", "email_error")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # deleting one would send it again

    @admin.display(description="Value")
    def shown_value(self, row: AlertCrossing) -> str:
        return format_decimal(row.value)

    @admin.display(description="Allowance")
    def shown_allowance(self, row: AlertCrossing) -> str:
        return format_decimal(row.allowance) if row.allowance is not None else "—"
