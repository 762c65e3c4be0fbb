"""Ops admin for outbound webhooks: endpoints (with their secret), deliveries (failed on
top, every attempt inline) and replaying a failed delivery (list action and a button on
its page). Writes go through ``accounts.outbound.services``/``publish``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.outbound.events import EVENT_TYPES
from accounts.outbound.models import Delivery, DeliveryAttempt, Endpoint
from accounts.outbound.publish import outbound_replay
from accounts.outbound.services import endpoint_create, endpoint_rotate_secret, endpoint_update
from common.admin import ServiceAdminMixin, ServiceModelForm

ENDPOINT_FIELDS = frozenset({"name", "url", "event_types", "active"})


class EndpointForm(ServiceModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https",
                         help_text="Receives a signed POST per event.")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES], required=False,
        widget=forms.CheckboxSelectMultiple, help_text="None ticked: every event type.",
    )

    class Meta:
        model = Endpoint
        fields = ["name", "url", "event_types", "active"]

    def service_call(self) -> Endpoint:
        if self.adding:
            return endpoint_create(**{name: self.cleaned_data[name] for name in ENDPOINT_FIELDS})
        stored = Endpoint.objects.get(pk=self.instance.pk)
        return endpoint_update(endpoint=stored, **self.changes(ENDPOINT_FIELDS))


@admin.register(Endpoint)
class EndpointAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = EndpointForm
    list_display = ("name", "url", "subscribed", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    actions = ("rotate_secret",)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("signing_secret", "created_at")

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "event_types", "active"]
        return fields if obj is None else [*fields, "signing_secret", "created_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            self.message_user(request, format_html(
                "Endpoint created. Its signing secret: <code>{}</code> (staff can reveal it "
                "again on the endpoint's page).", obj.secret), messages.SUCCESS)

    @admin.display(description="Events")
    def subscribed(self, endpoint: Endpoint) -> str:
        return ", ".join(endpoint.event_types) or "every event"

    @admin.display(description="Signing secret")
    def signing_secret(self, endpoint: Endpoint) -> str:
        # Folded away so it is not on screen (or in a screenshot) unless asked for.
        return format_html("<details><summary>Reveal</summary><code>{}</code></details>",
                           endpoint.secret)

    @admin.action(description="Rotate the signing secret of selected endpoints")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint_rotate_secret(endpoint=endpoint)
        self.message_user(request, f"{queryset.count()} secret(s) rotated; update the "
                                   "receivers with the new ones.", messages.SUCCESS)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "succeeded", "status_code", "duration_ms", "error",
              "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class FailedFirst(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Delivery.Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("event_id", "event_type", "endpoint", "status", "attempts", "last_error_short",
                    "next_attempt_at", "created_at")
    list_filter = (FailedFirst, "event_type", "endpoint")
    search_fields = ("event_id",)
    list_select_related = ("endpoint",)
    inlines = (AttemptInline,)
    actions = ("replay",)
    readonly_fields = ("endpoint", "event_type", "event_id", "status", "attempts",
                       "next_attempt_at", "last_attempt_at", "last_error", "created_at",
                       "payload")
    fields = readonly_fields
    change_form_template = "admin/outbound/delivery/change_form.html"

    def get_ordering(self, request):
        # Failed deliveries on top: they are what ops come here for.
        failed_first = Case(
            When(status=Delivery.Status.FAILED, then=Value(0)),
            When(status=Delivery.Status.PENDING, then=Value(1)),
            default=Value(2), output_field=IntegerField(),
        )
        return (failed_first.asc(), "-created_at", "-pk")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # the log explains what a receiver saw

    @admin.display(description="Last error")
    def last_error_short(self, delivery: Delivery) -> str:
        return delivery.last_error[:60]

    @admin.action(description="Replay selected failed deliveries")
    def replay(self, request, queryset):
        replayed, skipped = 0, 0
        for delivery in queryset:
            try:
                outbound_replay(delivery=delivery, now=timezone.now())
                replayed += 1
            except ValidationError:
                skipped += 1
        self.message_user(request, f"{replayed} delivery(ies) queued again"
                                   + (f"; {skipped} not failed, left alone." if skipped else "."),
                          messages.SUCCESS if replayed else messages.WARNING)

    def get_urls(self):
        return [
            path("<int:pk>/replay/", self.admin_site.admin_view(self.replay_view),
                 name="outbound_delivery_replay"),
            *super().get_urls(),
        ]

    def replay_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(Delivery, pk=pk)
        try:
            outbound_replay(delivery=delivery, now=timezone.now())
            self.message_user(request, "Delivery queued again.", messages.SUCCESS)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:outbound_delivery_change", args=[pk]))
