"""Admin for contracts (their scheduled migrations are in ``plans.admin.migrations``).

Creating and changing a contract, scheduling and canceling a migration and renewing
all go through ``plans.services``, so the admin applies the API's rules (term ends on
a period boundary, notice days, one active contract per customer, …) and shows their
errors on the form.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from common.admin import ServiceAdminMixin, ServiceModelForm
from plans.admin.base import (
    DECIMAL_OVERRIDES,
    AuditedAdmin,
    fmt_money,
    money_display,
    quantity_display,
    render_confirmation,
    today,
)
from plans.admin.migrations import (
    ContractMigrationInline,
    PublishedVersionChoice,
    published_versions,
)
from plans.models import Contract, ContractMigration
from plans.selectors import (
    contract_list,
    contract_pending_migrations,
    contract_period_containing,
    contract_version_at,
    contracts_due_for_renewal,
    contracts_ending_between,
)
from plans.services import (
    contract_create,
    contract_renew_due,
    contract_update,
)
from plans.services.contracts import OVERRIDE_FIELDS, UPDATABLE_FIELDS

RENEWAL_WINDOW_DAYS = 30


# --- filters -------------------------------------------------------------------------------


class TermEndFilter(admin.SimpleListFilter):
    title = "term ends"
    parameter_name = "term_ends"

    def lookups(self, request, model_admin):
        return (
            ("next30", f"Renewing in the next {RENEWAL_WINDOW_DAYS} days"),
            ("due", "Term over, not yet renewed"),
            ("evergreen", "No end date"),
        )

    def queryset(self, request, queryset):
        day = today()
        if self.value() == "next30":
            ending = contracts_ending_between(
                start=day, end=day + dt.timedelta(days=RENEWAL_WINDOW_DAYS))
            return queryset.filter(pk__in=ending.values("pk"))
        if self.value() == "due":
            return queryset.filter(pk__in=contracts_due_for_renewal(today=day).values("pk"))
        if self.value() == "evergreen":
            return queryset.filter(end_date__isnull=True)
        return queryset


class PendingMigrationFilter(admin.SimpleListFilter):
    title = "migration"
    parameter_name = "migration"

    def lookups(self, request, model_admin):
        return (("pending", "Migration pending"),)

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(
                migrations__status=ContractMigration.Status.SCHEDULED,
                migrations__effective_date__gt=today(),
            ).distinct()
        return queryset


# --- contracts -----------------------------------------------------------------------------


class ContractForm(ServiceModelForm):
    class Meta:
        model = Contract
        fields = ["customer", "plan_version", "start_date", "end_date", "auto_renew", "renewal",
                  "committed_seats", *OVERRIDE_FIELDS]
        field_classes = {"plan_version": PublishedVersionChoice}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "plan_version" in self.fields:
            self.fields["plan_version"].queryset = published_versions()
            self.fields["plan_version"].help_text = "Published versions only."

    def clean(self) -> dict:
        data = super().clean()
        start = data.get("start_date") or self.instance.start_date
        end = data.get("end_date")
        if "end_date" in self.fields and start and end and end <= start:
            # On the field rather than as the model constraint's form-wide message.
            self.add_error("end_date", "end_date must be after start_date.")
        return data

    def service_call(self) -> Contract:
        if self.adding:
            return contract_create(**{name: self.cleaned_data[name] for name in self.fields})
        return contract_update(contract=self.instance, **self.changes(UPDATABLE_FIELDS))


@admin.register(Contract)
class ContractAdmin(ServiceAdminMixin, AuditedAdmin):
    form = ContractForm
    list_display = ("id", "customer_id_", "plan_version", "status", "start_date", "end_date",
                    "auto_renew", "renewal_", "committed_seats", "pending_migration")
    list_display_links = ("id", "customer_id_")
    list_filter = ("plan_version__plan", "status", "renewal", TermEndFilter,
                   PendingMigrationFilter, "auto_renew")
    search_fields = ("customer__external_id", "customer__name")
    autocomplete_fields = ("customer",)
    actions = ("renew_due_now",)
    inlines = (ContractMigrationInline,)
    list_per_page = 50
    terms_fields = ("customer", "plan_version", "status", "start_date", "end_date",
                    "anchor_date")
    renewal_fields = ("auto_renew", "renewal", "renewed_from", "renewed_by_link")
    money_fields = ("seat_price", "base_fee", "included_per_seat", "discount_percent",
                    "overage_cap", "minimum_commitment")
    info_fields = ("version_in_force", "current_period", "created_at", "updated_at")
    seat_price_ = money_display("seat_price", "seat price")
    base_fee_ = money_display("base_fee", "base fee")
    included_per_seat_ = quantity_display("included_per_seat", "included per seat")
    discount_percent_ = quantity_display("discount_percent", "discount percent")
    overage_cap_ = money_display("overage_cap", "overage cap")
    minimum_commitment_ = money_display("minimum_commitment", "minimum commitment")

    def get_queryset(self, request):
        return contract_list().order_by(*(self.get_ordering(request) or Contract._meta.ordering))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else ()

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (None, {"fields": ("customer", "plan_version", "start_date", "end_date")}),
                ("Renewal", {"fields": ("auto_renew", "renewal")}),
                ("Seats and negotiated terms",
                 {"fields": ("committed_seats", *self.money_fields),
                  "description": "Empty overrides use the plan version's prices."}),
            )
        money = self.money_fields if self._editable(obj) else tuple(
            f"{name}_" for name in self.money_fields)
        version = obj.plan_version
        listed = (f"Empty overrides use {version}'s prices: seat {fmt_money(version.seat_price)}, "
                  f"base fee {fmt_money(version.base_fee)} {version.currency}.")
        return (
            (None, {"fields": self.terms_fields}),
            ("Renewal", {"fields": self.renewal_fields}),
            ("Seats and negotiated terms", {"fields": ("committed_seats", *money),
                                            "description": listed}),
            ("Today", {"fields": self.info_fields}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fixed = ("customer", "plan_version", "status", "start_date", "anchor_date",
                 "renewed_from", "renewed_by_link", *self.info_fields)
        if self._editable(obj):
            return fixed
        return (*fixed, "end_date", "auto_renew", "renewal", "committed_seats",
                *(f"{name}_" for name in self.money_fields))

    formfield_overrides = DECIMAL_OVERRIDES

    @staticmethod
    def _editable(obj) -> bool:
        return obj is None or obj.status == Contract.Status.ACTIVE

    def has_change_permission(self, request, obj=None):
        # An ended or canceled term is a record; changes go to its renewal.
        return self._editable(obj) and super().has_change_permission(request, obj)

    @admin.display(description="Customer", ordering="customer__external_id")
    def customer_id_(self, contract: Contract) -> str:
        return contract.customer.external_id

    @admin.display(description="Renewal", ordering="renewal")
    def renewal_(self, contract: Contract) -> str:
        return contract.renewal

    @admin.display(description="Pending migration")
    def pending_migration(self, contract: Contract) -> str:
        pending = contract_pending_migrations(contract=contract, today=today())
        return "; ".join(f"→ {m.plan_version} on {m.effective_date.isoformat()}"
                         for m in pending) or "—"

    @admin.display(description="Renewed by")
    def renewed_by_link(self, contract: Contract) -> str:
        successor = Contract.objects.filter(renewed_from=contract).first()
        if successor is None:
            return "—"
        url = reverse("admin:plans_contract_change", args=[successor.pk])
        return format_html('<a href="{}">{}</a>', url, successor)

    @admin.display(description="Version in force today")
    def version_in_force(self, contract: Contract) -> str:
        return str(contract_version_at(contract=contract, day=today()))

    @admin.display(description="Current period")
    def current_period(self, contract: Contract) -> str:
        day = today()
        if day < contract.start_date or (contract.end_date and day > contract.end_date):
            return "— (today is outside this term)"
        return str(contract_period_containing(contract=contract, day=day))

    # -- renewal ---------------------------------------------------------------------------

    def get_urls(self):
        return [
            path("renew-due/", self.admin_site.admin_view(self.renew_due_view),
                 name="plans_contract_renew_due"),
            *super().get_urls(),
        ]

    def _renew(self, request, contract_ids: list[int] | None) -> None:
        due = contracts_due_for_renewal(today=today())
        if contract_ids is not None:
            due = due.filter(pk__in=contract_ids)
        due_count = due.count()
        renewed = contract_renew_due(now=timezone.now(), contract_ids=contract_ids)
        if not due_count:
            self.message_user(request, "No contract is due: every term is still running.",
                              messages.INFO)
            return
        self.message_user(request, f"{due_count} term(s) ended; {len(renewed)} renewed"
                          + (f" ({', '.join(f'#{c.pk}' for c in renewed)})." if renewed else "."),
                          messages.SUCCESS)

    @admin.action(description="Renew due now (selected contracts whose term is over)")
    def renew_due_now(self, request, queryset):
        self._renew(request, list(queryset.values_list("pk", flat=True)))

    def renew_due_view(self, request):
        changelist = reverse("admin:plans_contract_changelist")
        if request.method == "POST":
            self._renew(request, None)
            return HttpResponseRedirect(changelist)
        due = list(contracts_due_for_renewal(today=today()))
        details = [
            f"#{c.pk} {c.customer.external_id} on {c.plan_version}, term ended "
            f"{c.end_date.isoformat()}: "
            + (f"renews ({c.renewal})" if c.auto_renew else "ends (no auto-renew)")
            for c in due
        ]
        return render_confirmation(
            request, self, title="Renew due contracts",
            question=(f"{len(due)} contract(s) are due. Run the renewal job for them now? "
                      "(It also runs every hour on its own.)" if due
                      else "No contract is due right now."),
            details=details, confirm_label="Run renewal now", cancel_url=changelist,
        )
