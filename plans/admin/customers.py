"""Adds contract columns, a filter and a contracts inline to the customer admin.

``accounts.admin`` cannot know about contracts (plans depends on accounts, not the
other way round), so plans re-registers the customer admin with its own additions.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import CustomerAdmin
from accounts.models import Customer
from plans.models import Contract


class HasActiveContractFilter(admin.SimpleListFilter):
    title = "active contract"
    parameter_name = "has_contract"

    def lookups(self, request, model_admin):
        return (("yes", "Has an active contract"), ("no", "No active contract"))

    def queryset(self, request, queryset):
        active = Contract.objects.filter(status=Contract.Status.ACTIVE).values("customer_id")
        if self.value() == "yes":
            return queryset.filter(pk__in=active)
        if self.value() == "no":
            return queryset.exclude(pk__in=active)
        return queryset


class ContractInline(admin.TabularInline):
    model = Contract
    fk_name = "customer"
    fields = ("plan_version", "status", "start_date", "end_date", "auto_renew", "renewal",
              "committed_seats")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-start_date",)
    verbose_name_plural = "Contracts (open one to change it or schedule a migration)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan_version__plan")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CustomerWithContractsAdmin(CustomerAdmin):
    list_display = (*CustomerAdmin.list_display[:4], "active_contract",
                    *CustomerAdmin.list_display[4:])
    list_filter = (*CustomerAdmin.list_filter, HasActiveContractFilter)
    inlines = (*CustomerAdmin.inlines, ContractInline)

    def get_queryset(self, request):
        active = Contract.objects.filter(status=Contract.Status.ACTIVE).select_related(
            "plan_version__plan")
        return super().get_queryset(request).prefetch_related(
            Prefetch("contracts", queryset=active, to_attr="active_contracts"))

    @admin.display(description="Active contract")
    def active_contract(self, customer: Customer) -> str:
        contracts = getattr(customer, "active_contracts", None)
        if not contracts:
            return "—"
        contract = contracts[0]
        url = reverse("admin:plans_contract_change", args=[contract.pk])
        return format_html('<a href="{}">{} (#{})</a>', url, contract.plan_version, contract.pk)


admin.site.unregister(Customer)
admin.site.register(Customer, CustomerWithContractsAdmin)
