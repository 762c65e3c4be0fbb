"""Ops admin for invoices and billing runs. Read-only: every change goes through a service
(finalize, void, hold, release, re-rate), and errors come back as messages."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.bounds import validate_moment_in_range
from common.display import money_column, quantity_column
from invoices.models import BillingRun, Invoice, InvoiceLine
from invoices.services import (
    invoice_finalize,
    invoice_hold,
    invoice_mark_paid_out_of_band,
    invoice_release_hold,
    invoice_rerate,
    invoice_void,
)
from invoices.stripe.admin import retry_stripe_sync
from invoices.stripe.tasks import queue_invoice_paid, queue_invoice_sync, queue_invoice_void


def _errors(error: ValidationError) -> str:
    return "; ".join(str(m) for m in error.messages)


def _apply(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Invoice],
           verb: str, service: Callable[[Invoice], object]) -> None:
    done = 0
    for invoice in queryset.order_by("period_start", "customer_id"):
        try:
            service(invoice)
            done += 1
        except ValidationError as error:
            modeladmin.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{done} invoice(s) {verb}.", messages.SUCCESS)


@admin.action(description="Finalize selected drafts", permissions=["change"])
def finalize(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "finalized",
           lambda i: queue_invoice_sync(invoice_finalize(invoice=i, now=timezone.now())))


@admin.action(description="Void selected invoices", permissions=["change"])
def void(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "voided",
           lambda i: queue_invoice_void(invoice_void(invoice=i, now=timezone.now())))


def _mark_paid(invoice: Invoice, paid_at: dt.datetime | None = None) -> None:
    now = timezone.now()
    queue_invoice_paid(invoice_mark_paid_out_of_band(invoice=invoice, paid_at=paid_at or now,
                                                     now=now))


class MarkPaidForm(forms.Form):
    """When the money arrived: a transfer booked days ago is recorded on its day, so the
    invoice's paid_at (and the ``invoice.paid`` webhook) say when it was really paid."""

    paid_at = forms.DateTimeField(
        label="Received at (UTC)", required=False, validators=[validate_moment_in_range],
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Not in the future, nor before the invoice was finalized; empty is now.")


@admin.action(description="Mark selected invoices paid (received outside Stripe)",
              permissions=["change"])
def mark_paid(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "marked paid", _mark_paid)


@admin.action(description="Hold selected drafts (no auto-finalize)", permissions=["change"])
def hold(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "held", lambda i: invoice_hold(invoice=i))


@admin.action(description="Release hold", permissions=["change"])
def release_hold(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "released", lambda i: invoice_release_hold(invoice=i))


@admin.action(description="Re-rate selected drafts", permissions=["change"])
def rerate(modeladmin, request, queryset):
    _apply(modeladmin, request, queryset, "re-rated",
           lambda i: invoice_rerate(invoice=i, now=timezone.now()))


INVOICE_ACTIONS = [finalize, void, mark_paid, hold, release_hold, rerate, retry_stripe_sync]

# The invoice page's buttons: verb → (label, service, confirm question or "" for none).
BUTTONS = {
    "finalize": ("Finalize", lambda i: queue_invoice_sync(
        invoice_finalize(invoice=i, now=timezone.now())), ""),
    "hold": ("Hold", lambda i: invoice_hold(invoice=i), ""),
    "release": ("Release hold", lambda i: invoice_release_hold(invoice=i), ""),
    "void": ("Void", lambda i: queue_invoice_void(invoice_void(invoice=i, now=timezone.now())),
             "Void {invoice}? A void invoice stays on record and cannot be changed again; "
             "a finalized one is voided in Stripe too."),
    "mark_paid": ("Mark paid", _mark_paid,
                  "Record that {invoice} was paid outside Stripe (a bank transfer, a cheque)? "
                  "Stripe then marks its copy paid out of band and stops collecting it."),
}


def _buttons_for(invoice: Invoice) -> list[str]:
    if invoice.status == Invoice.Status.DRAFT:
        return ["finalize", "release" if invoice.on_hold else "hold", "void"]
    if invoice.status == Invoice.Status.FINALIZED:
        return ["mark_paid", "void"]
    return []


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "kind", "description", "quantity_", "unit_price_", "value_",
              "included_", "billable_", "tiers_text", "amount_", "period_start",
              "stripe_invoice_item_id"]
    readonly_fields = fields
    # For people: the columns keep 10 or 12 places; amounts in the currency's minor unit.
    quantity_ = quantity_column("quantity")
    unit_price_ = money_column("unit_price", "unit price", currency="invoice.currency",
                               code=False)
    value_ = quantity_column("value")
    included_ = quantity_column("included")
    billable_ = quantity_column("billable")
    amount_ = money_column("amount", currency="invoice.currency", code=False)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="tiers")
    def tiers_text(self, line: InvoiceLine) -> str:
        return format_html_join(
            "", "<div>{} × {}{} = {}</div>",
            ((t["units"], t["unit_price"],
              f" + {t['flat_fee']}" if t.get("flat_fee") not in (None, "0") else "",
              t["amount"]) for t in line.tiers),
        ) or "—"


class PeriodFilter(admin.SimpleListFilter):
    title = "period"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        months = Invoice.objects.dates("period_start", "month", order="DESC")[:24]
        return [(m.strftime("%Y-%m"), m.strftime("%B %Y")) for m in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        year, month = (int(part) for part in self.value().split("-"))
        return queryset.filter(period_start__year=year, period_start__month=month)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    # Fits a 1366 px screen: the currency is printed with the total.
    list_display = ["__str__", "customer", "period_start", "status", "total_", "on_hold",
                    "stripe_state"]
    list_filter = ["status", "currency", "stripe_state", "on_hold", PeriodFilter]
    search_fields = ["number", "customer__external_id", "customer__name", "=id"]
    list_select_related = ["customer"]
    date_hierarchy = "period_start"
    ordering = ["-period_start", "customer__external_id"]
    actions = INVOICE_ACTIONS
    inlines = [InvoiceLineInline]
    change_form_template = "admin/invoices/invoice/change_form.html"
    total_ = money_column("total")
    seat_equivalents_ = quantity_column("seat_equivalents", "seat equivalents")
    billed_seats_ = quantity_column("billed_seats", "billed seats")
    readonly_fields = [
        "id", "page_link", "customer", "contract", "plan_version", "period_start", "period_end",
        "currency", "status", "number", "total_", "seat_equivalents_", "billed_seats_", "on_hold",
        "usage_snapshot_text", "late_usage_snapshots_text", "overrides_text", "rated_at",
        "created_at", "finalized_at", "paid_at", "voided_at", "payment_failed_at",
        "stripe_state", "stripe_invoice_id", "stripe_attempts", "stripe_error",
        "stripe_next_attempt_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False  # invoices come from billing runs

    # --- Finalize / Void / Hold buttons on the invoice page (the bulk actions' services) --

    def get_urls(self):
        buttons = [
            path(f"<path:object_id>/{verb}/", self.admin_site.admin_view(self.button_view),
                 {"verb": verb}, name=f"invoices_invoice_{verb}")
            for verb in BUTTONS
        ]
        return [*buttons, *super().get_urls()]

    def button_view(self, request, object_id: str, verb: str):
        if not super().has_change_permission(request):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice, pk=object_id)
        back = reverse("admin:invoices_invoice_change", args=[invoice.pk])
        label, service, confirm = BUTTONS[verb]
        if verb == "mark_paid":
            return self._mark_paid_view(request, invoice, back)
        if request.method != "POST":
            if not confirm:
                return HttpResponseNotAllowed(["POST"])
            return TemplateResponse(request, "admin/plans/confirm_action.html", {
                **self.admin_site.each_context(request), "opts": self.model._meta,
                "object": invoice, "title": f"{label} {invoice}?",
                "question": confirm.format(invoice=invoice), "confirm_label": f"Yes, {label.lower()}",
                "cancel_url": back,
            })
        try:
            service(invoice)
        except ValidationError as error:
            self.message_user(request, f"{invoice}: {_errors(error)}", messages.ERROR)
        else:
            self.message_user(request, f"{label}: {Invoice.objects.get(pk=invoice.pk)} done.",
                              messages.SUCCESS)
        return HttpResponseRedirect(back)

    def _mark_paid_view(self, request, invoice: Invoice, back: str):
        """The Mark paid button's page: asks when the money arrived (default now)."""
        form = MarkPaidForm(request.POST if request.method == "POST" else None, initial={
            "paid_at": timezone.now().astimezone(dt.UTC).replace(second=0, microsecond=0)})
        if form.is_valid():
            try:
                _mark_paid(invoice, form.cleaned_data["paid_at"])
            except ValidationError as error:
                form.add_error("paid_at", error.message_dict.get("paid_at")
                               or error.messages)
            else:
                self.message_user(request, f"Mark paid: {Invoice.objects.get(pk=invoice.pk)} "
                                           "done.", messages.SUCCESS)
                return HttpResponseRedirect(back)
        return TemplateResponse(request, "admin/plans/confirm_action.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta,
            "object": invoice, "title": f"Mark {invoice} paid?",
            "question": BUTTONS["mark_paid"][2].format(invoice=invoice), "form": form,
            "confirm_label": "Yes, mark paid", "cancel_url": back,
        }, status=400 if form.is_bound else 200)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        invoice = Invoice.objects.filter(pk=object_id).only("status", "on_hold").first() \
            if _is_uuid(object_id) else None
        buttons = []
        if invoice is not None and super().has_change_permission(request):
            buttons = [
                {"verb": verb, "label": BUTTONS[verb][0],
                 "url": reverse(f"admin:invoices_invoice_{verb}", args=[object_id]),
                 "confirm": bool(BUTTONS[verb][2])}
                for verb in _buttons_for(invoice)
            ]
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "invoice_buttons": buttons})

    def has_change_permission(self, request, obj=None) -> bool:
        # The change page is read-only; actions need "change" to show up.
        return super().has_change_permission(request, obj) if obj is None else False

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A deleted draft is rated afresh by the next run; anything else is voided instead.
        if obj is not None and obj.status != Invoice.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        drafts = queryset.filter(status=Invoice.Status.DRAFT)
        if drafts.count() != queryset.count():
            self.message_user(request, "Only drafts can be deleted; non-drafts were kept.",
                              messages.WARNING)
        drafts.delete()

    @admin.display(description="page")
    def page_link(self, invoice: Invoice) -> str:
        return format_html('<a href="{}" target="_blank">Printable invoice</a> · '
                           '<a href="{}" download>PDF</a>',
                           reverse("invoice-page", args=[invoice.pk]),
                           reverse("invoice-pdf", args=[invoice.pk]))

    @staticmethod
    def _json(data) -> str:
        return format_html("<pre>{}</pre>", json.dumps(data, indent=2, sort_keys=True))

    @admin.display(description="usage snapshot")
    def usage_snapshot_text(self, invoice: Invoice) -> str:
        return self._json(invoice.usage_snapshot)

    @admin.display(description="late usage snapshots")
    def late_usage_snapshots_text(self, invoice: Invoice) -> str:
        return self._json(invoice.late_usage_snapshots)

    @admin.display(description="contract overrides when rated")
    def overrides_text(self, invoice: Invoice) -> str:
        return self._json(invoice.overrides)


@admin.register(BillingRun)
class BillingRunAdmin(admin.ModelAdmin):
    list_display = ["requested_at", "as_of", "status", "periods_due", "invoices_created",
                    "drafts_rerated", "failure_count", "chunks_done", "chunks_total",
                    "finished_at"]
    list_filter = ["status"]
    ordering = ["-requested_at"]
    readonly_fields = ["id", "as_of", "status", "error", "periods_due", "invoices_created",
                       "drafts_rerated", "customers_total", "chunks_total", "chunks_done",
                       "failures_table", "requested_at", "started_at", "finished_at"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="failures")
    def failure_count(self, run: BillingRun) -> int:
        return len(run.failures)

    @admin.display(description="failures")
    def failures_table(self, run: BillingRun) -> str:
        if not run.failures:
            return "None"
        rows = format_html_join(
            "", "<tr><td>{}</td><td><code>{}</code></td></tr>",
            ((f.get("customer", "?"), f.get("error", "")) for f in run.failures),
        )
        return format_html("<table><tr><th>Customer</th><th>Error</th></tr>{}</table>", rows)
