"""Admin for the catalog: metrics and plans (versions and charges have their own modules).

Drafts are scratch space: their charges and tiers are edited row by row (the model
layer refuses any write to a published version). Publishing is the gate: it runs the
same nested charge validation as the API. A published version is view-only here.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from common.admin import ServiceAdminMixin, ServiceModelForm
from plans.admin.base import DECIMAL_OVERRIDES, money_display, today
from plans.models import Contract, Metric, Plan, PlanVersion
from plans.selectors import metric_published_versions, plan_current_version
from plans.services import metric_create, metric_update, plan_create
from plans.services.catalog import METRIC_DEFINITION_FIELDS, METRIC_LABEL_FIELDS

# --- metrics -------------------------------------------------------------------------------


class MetricForm(ServiceModelForm):
    class Meta:
        model = Metric
        fields = ["code", "name", "description", "event_type", "aggregation", "field", "filters"]

    def clean_filters(self) -> dict:
        return self.cleaned_data.get("filters") or {}

    def service_call(self) -> Metric:
        data = {name: self.cleaned_data[name] for name in self.fields}
        if self.adding:
            return metric_create(**data)
        # The same service as PATCH /metrics/{code}: labels always, the rule only while no
        # published version prices the metric.
        return metric_update(metric=self.instance,
                             **self.changes(METRIC_DEFINITION_FIELDS | METRIC_LABEL_FIELDS))


@admin.register(Metric)
class MetricAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = MetricForm
    list_display = ("code", "name", "event_type", "aggregation", "field", "filters",
                    "published_use")
    list_filter = ("aggregation", "event_type")
    search_fields = ("code", "name", "event_type", "field")
    formfield_overrides = DECIMAL_OVERRIDES

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _published=Count("charges__plan_version", distinct=True,
                             filter=Q(charges__plan_version__status=PlanVersion.Status.PUBLISHED))
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("created_at",)
        if metric_published_versions(metric=obj).exists():
            # What a published price counts must not change under it.
            return ("code", *sorted(METRIC_DEFINITION_FIELDS), "published_in", "created_at")
        return ("code", "published_in", "created_at")

    @admin.display(description="Published versions", ordering="_published")
    def published_use(self, metric: Metric) -> int:
        return metric._published

    @admin.display(description="Priced by published versions")
    def published_in(self, metric: Metric) -> str:
        versions = list(metric_published_versions(metric=metric))
        if not versions:
            return "none yet: the definition can still change"
        return format_html_join(", ", '<a href="{}">{}</a>', (
            (reverse("admin:plans_planversion_change", args=[v.pk]), str(v)) for v in versions
        ))


# --- plans ---------------------------------------------------------------------------------


class PlanForm(ServiceModelForm):
    class Meta:
        model = Plan
        fields = ["code", "name", "description"]

    def service_call(self) -> Plan:
        if self.adding:
            return plan_create(**{name: self.cleaned_data[name] for name in self.fields})
        # Name and description are labels with no rules attached: there is no plan_update.
        self.instance.save()
        return self.instance


class PlanVersionInline(admin.TabularInline):
    model = PlanVersion
    fields = ("version", "status", "effective_from", "currency", "billing_interval",
              "seat_price_", "base_fee_", "charges_", "published_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-version",)
    seat_price_ = money_display("seat_price", "seat price")
    base_fee_ = money_display("base_fee", "base fee")

    @admin.display(description="charges")
    def charges_(self, version: PlanVersion) -> str:
        return ", ".join(charge.metric.code for charge in version.charges.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("charges__metric")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Plan)
class PlanAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = PlanForm
    list_display = ("code", "name", "current_versions", "version_count", "active_contracts")
    search_fields = ("code", "name")
    inlines = (PlanVersionInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _versions=Count("versions", distinct=True),
            _active=Count("versions__contracts", distinct=True,
                          filter=Q(versions__contracts__status=Contract.Status.ACTIVE)),
        )

    def get_readonly_fields(self, request, obj=None):
        return ("code", "new_version_link", "created_at") if obj is not None else ()

    @admin.display(description="Current version per currency")
    def current_versions(self, plan: Plan) -> str:
        currencies = sorted(set(plan.versions.published().values_list("currency", flat=True)))
        found = [plan_current_version(plan=plan, today=today(), currency=c) for c in currencies]
        return ", ".join(f"{v.currency} v{v.version}" for v in found if v is not None) or "—"

    @admin.display(description="Versions", ordering="_versions")
    def version_count(self, plan: Plan) -> int:
        return plan._versions

    @admin.display(description="Active contracts", ordering="_active")
    def active_contracts(self, plan: Plan) -> int:
        return plan._active

    @admin.display(description="New version")
    def new_version_link(self, plan: Plan) -> str:
        url = reverse("admin:plans_planversion_add") + f"?plan={plan.pk}"
        return format_html(
            '<a href="{}">Add a draft version →</a> (or open a version and use '
            '“Create next version” to start from its prices)', url,
        )
