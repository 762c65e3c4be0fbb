"""Admin for the Stripe side: webhook events (registered here) and the invoice action
"Retry Stripe sync" (wired into the invoice admin by ``invoices/admin.py``).

Importing this module registers ``StripeEvent`` once.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from invoices.models import Invoice, StripeEvent
from invoices.stripe.sync import (
    OFF_MESSAGE,
    StripeSyncBusy,
    StripeSyncFailed,
    StripeSyncOff,
    stripe_sync_invoice,
    sync_enabled,
)
from invoices.stripe.webhooks import stripe_event_process

# Larger selections would keep the admin request waiting on Stripe for too long.
MAX_INLINE_SYNC = 50


@admin.action(description="Retry Stripe sync")
def retry_stripe_sync(modeladmin: admin.ModelAdmin, request: HttpRequest,
                      queryset: QuerySet[Invoice]) -> None:
    if not sync_enabled():
        modeladmin.message_user(request, OFF_MESSAGE, messages.WARNING)
        return
    invoices = list(queryset.exclude(status=Invoice.Status.DRAFT)[: MAX_INLINE_SYNC + 1])
    if len(invoices) > MAX_INLINE_SYNC:
        modeladmin.message_user(
            request, f"Select at most {MAX_INLINE_SYNC} invoices at a time.", messages.ERROR
        )
        return
    synced, problems = 0, []
    for invoice in invoices:
        try:
            stripe_sync_invoice(invoice=invoice, now=timezone.now())
            synced += 1
        except StripeSyncOff:
            problems.append(OFF_MESSAGE)
        except (StripeSyncFailed, StripeSyncBusy) as exc:
            problems.append(f"{invoice}: {exc}")
    if synced:
        modeladmin.message_user(request, f"{synced} invoice(s) in step with Stripe.",
                                messages.SUCCESS)
    for problem in problems:
        modeladmin.message_user(request, problem, messages.ERROR)


@admin.action(description="Process again (failed or never processed)")
def replay_stripe_events(modeladmin: admin.ModelAdmin, request: HttpRequest,
                         queryset: QuerySet[StripeEvent]) -> None:
    done = {status: 0 for status in StripeEvent.Status.values}
    for event in queryset.exclude(
        status__in=[StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED]
    ):
        event = stripe_event_process(event=event, now=timezone.now())
        done[event.status] += 1
    summary = ", ".join(f"{count} {status}" for status, count in done.items() if count)
    level = messages.WARNING if done[StripeEvent.Status.FAILED] else messages.SUCCESS
    modeladmin.message_user(request, summary or "Nothing to process.", level)


class StripeEventAdmin(admin.ModelAdmin):
    list_display = ["stripe_id", "type", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["stripe_id", "type", "error"]
    date_hierarchy = "received_at"
    actions = [replay_stripe_events]
    readonly_fields = [f.name for f in StripeEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events only come from Stripe

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


if not admin.site.is_registered(StripeEvent):
    admin.site.register(StripeEvent, StripeEventAdmin)
