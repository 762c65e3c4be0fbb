"""Admin for scheduled migrations: an inline on the contract and a list of their own.

Scheduling and canceling go through the services, so the notice and period-start rules
apply and their errors show on the row that broke them.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from common.admin import ServiceAdminMixin, ServiceInlineFormSet, ServiceModelForm
from plans.admin.base import AuditedAdmin, today, version_label
from plans.models import Contract, ContractMigration, PlanVersion
from plans.selectors import contract_list
from plans.services import contract_cancel_migration, contract_schedule_migration


class PublishedVersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: PlanVersion) -> str:
        return version_label(obj)


def published_versions():
    return PlanVersion.objects.published().select_related("plan").order_by("plan__code", "version")


# --- migrations (inline on the contract, and a list of their own) --------------------------


def migration_state(migration: ContractMigration) -> str:
    if migration.status == ContractMigration.Status.CANCELED:
        return "canceled"
    return "in force" if migration.effective_date <= today() else "pending"


class MigrationInlineForm(forms.ModelForm):
    cancel = forms.BooleanField(required=False, label="Cancel it",
                                help_text="Only a pending migration can be canceled.")

    class Meta:
        model = ContractMigration
        fields = ["plan_version", "effective_date", "notice_days"]
        field_classes = {"plan_version": PublishedVersionChoice}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan_version"].queryset = published_versions()
        if self.instance.pk is not None:
            # A scheduled migration is never edited: cancel it and schedule another.
            for name in ("plan_version", "effective_date", "notice_days"):
                if name in self.fields:
                    self.fields[name].disabled = True
            self.fields["cancel"].disabled = migration_state(self.instance) != "pending"
        else:
            self.fields["cancel"].disabled = True


class MigrationFormSet(ServiceInlineFormSet):
    def write(self, form, parent):
        if form.instance.pk is not None:
            if form.cleaned_data.get("cancel"):
                return contract_cancel_migration(migration=form.instance, today=today())
            return form.instance
        return contract_schedule_migration(
            contract=parent, plan_version=form.cleaned_data["plan_version"],
            effective_date=form.cleaned_data["effective_date"],
            notice_days=form.cleaned_data["notice_days"], today=today(),
        )


class ContractMigrationInline(admin.TabularInline):
    model = ContractMigration
    form = MigrationInlineForm
    formset = MigrationFormSet
    fields = ("plan_version", "effective_date", "notice_days", "scheduled_on", "state",
              "cancel")
    readonly_fields = ("scheduled_on", "state")
    extra = 0
    can_delete = False
    verbose_name = "scheduled migration"
    verbose_name_plural = ("Scheduled migrations (effective on a period start at least "
                           "notice_days after today)")

    @admin.display(description="state")
    def state(self, migration: ContractMigration) -> str:
        return migration_state(migration) if migration.pk else "new"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan_version__plan")

    def _active(self, obj) -> bool:
        return obj is not None and obj.status == Contract.Status.ACTIVE

    def has_add_permission(self, request, obj=None):
        return self._active(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._active(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class ScheduleMigrationForm(ServiceModelForm):
    class Meta:
        model = ContractMigration
        fields = ["contract", "plan_version", "effective_date", "notice_days"]
        field_classes = {"plan_version": PublishedVersionChoice}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "plan_version" in self.fields:
            self.fields["plan_version"].queryset = published_versions()
        if "contract" in self.fields:
            self.fields["contract"].queryset = contract_list(status=Contract.Status.ACTIVE)

    def service_call(self) -> ContractMigration:
        return contract_schedule_migration(today=today(), **self.cleaned_data)


@admin.register(ContractMigration)
class ContractMigrationAdmin(ServiceAdminMixin, AuditedAdmin):
    """Every scheduled migration in one list; scheduling goes through the service."""

    form = ScheduleMigrationForm
    list_display = ("contract", "customer", "from_version", "plan_version", "effective_date",
                    "notice_days", "scheduled_on", "state")
    list_filter = ("status", "plan_version__plan", "effective_date")
    search_fields = ("contract__customer__external_id", "contract__customer__name")
    list_select_related = ("contract__customer", "contract__plan_version__plan",
                           "plan_version__plan")
    autocomplete_fields = ("contract",)
    actions = ("cancel",)
    readonly_fields = ("contract", "plan_version", "effective_date", "notice_days",
                       "scheduled_on", "status", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: the row explains what the customer was told

    @admin.display(description="Customer", ordering="contract__customer__external_id")
    def customer(self, migration: ContractMigration) -> str:
        return migration.contract.customer.external_id

    @admin.display(description="From (pinned)")
    def from_version(self, migration: ContractMigration) -> str:
        return str(migration.contract.plan_version)

    @admin.display(description="State")
    def state(self, migration: ContractMigration) -> str:
        return migration_state(migration)

    @admin.action(description="Cancel selected pending migrations")
    def cancel(self, request, queryset):
        canceled = 0
        for migration in queryset.filter(status=ContractMigration.Status.SCHEDULED):
            try:
                contract_cancel_migration(migration=migration, today=today())
            except ValidationError as error:
                self.message_user(request, f"{migration}: {' '.join(error.messages)}",
                                  messages.ERROR)
            else:
                canceled += 1
        self.message_user(request, f"Canceled {canceled} migration(s).", messages.SUCCESS)
