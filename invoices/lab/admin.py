"""Ops admin for backtests: run one (a form that calls the service and queues the task),
follow its progress bar, read its results side by side (current vs candidate, change,
provider cost, margin before and after), compare two backtests, export a CSV.

Backtests are never edited: the add page is the "Run backtest" form and the change page
is the read-only result. Every read goes through ``invoices.lab.backtest_selectors``.
"""

from __future__ import annotations

import csv
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import Customer
from common.decimals import format_decimal, money_places
from invoices.lab.backtest import margin_rate
from invoices.lab.backtest_selectors import (
    backtest_csv_rows,
    backtest_list,
    backtest_results,
    backtest_summary,
    customer_changes,
)
from invoices.lab.backtest_service import backtest_create
from invoices.lab.models import MAX_BACKTEST_PERIODS, Backtest
from invoices.lab.tasks import queue_backtest
from invoices.rating.money import round_money
from plans.models import PlanVersion


def shown(value: Decimal | None, currency: str) -> str:
    """Money for the admin: the currency's minor unit (the API keeps the exact value)."""
    if value is None:
        return ""
    return format_decimal(round_money(value, currency), min_places=money_places(currency))


def percent(rate: Decimal | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def progress_bar(backtest: Backtest) -> str:
    share = backtest.progress
    return format_html(
        '<progress class="backtest-progress" max="1" value="{}" title="{} of {} customers">'
        "</progress> {}%", share, backtest.customers_done, backtest.customers_total,
        int(share * 100))


class RunBacktestForm(forms.Form):
    plan_version = forms.ModelChoiceField(
        queryset=PlanVersion.objects.select_related("plan").order_by("plan__code", "version"),
        label="Candidate version", help_text="Draft or published; its plan's customers are "
                                             "re-rated on it.")
    periods = forms.IntegerField(min_value=1, max_value=MAX_BACKTEST_PERIODS, initial=3,
                                 help_text="Each customer's latest ended periods on the plan.")
    customers = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.order_by("external_id"), required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="None chosen: every customer with a contract on the plan.")

    def run(self) -> Backtest:
        """Record the backtest through the service; its errors land on the form's fields."""
        version = self.cleaned_data["plan_version"]
        try:
            return backtest_create(
                plan=version.plan.code, plan_version=version.version,
                periods=self.cleaned_data["periods"],
                customers=[c.external_id for c in self.cleaned_data["customers"]] or None,
                now=timezone.now())
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                name = {"plan": "plan_version"}.get(field, field)
                for problem in problems:
                    self.add_error(name if name in self.fields else None, problem)
            raise


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    list_display = ("created_at", "candidate", "periods", "status", "progress_column",
                    "customers_total")
    list_filter = ("status", "plan")
    actions = ["compare_two", "export_csv"]
    change_list_template = "admin/lab/backtest/change_list.html"

    def get_queryset(self, request):
        return backtest_list()

    @admin.display(description="Candidate")
    def candidate(self, backtest: Backtest) -> str:
        return f"{backtest.plan.code} v{backtest.plan_version.version}"

    @admin.display(description="Progress")
    def progress_column(self, backtest: Backtest) -> str:
        return progress_bar(backtest)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # results are what the engine said: nothing to edit

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("compare/", wrap(self.compare_view), name="lab_backtest_compare"),
            path("<uuid:backtest_id>/csv/", wrap(self.csv_view), name="lab_backtest_csv"),
            path("<uuid:backtest_id>/", wrap(self.detail_view), name="lab_backtest_detail"),
            *super().get_urls(),
        ]

    # -- run --------------------------------------------------------------------------------

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RunBacktestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                backtest = form.run()
            except ValidationError:
                pass
            else:
                queue_backtest(backtest)
                self.message_user(request, f"Backtest of {backtest.plan.code} "
                                  f"v{backtest.plan_version.version} queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:lab_backtest_detail",
                                                    args=[backtest.pk]))
        return TemplateResponse(request, "admin/lab/backtest/run.html", {
            **self.admin_site.each_context(request), "title": "Run backtest",
            "opts": self.model._meta, "form": form,
        })

    # -- read -------------------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:lab_backtest_detail", args=[object_id]))

    def _get(self, request, backtest_id) -> Backtest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(backtest_list(), pk=backtest_id)

    def detail_view(self, request, backtest_id):
        backtest = self._get(request, backtest_id)
        currency = backtest.plan_version.currency
        summary = backtest_summary(backtest=backtest)
        rows = [{
            "customer": r.customer.external_id, "period_start": r.period_start,
            "period_end": r.period_end, "current_version": r.current_version.version,
            "invoiced": r.invoiced, "current": shown(r.current_total, r.currency),
            "candidate": shown(r.candidate_total, r.currency),
            "change": shown(r.change, r.currency), "cost": shown(r.provider_cost, r.currency),
            "margin_before": shown(r.current_total - r.provider_cost, r.currency),
            "margin_after": shown(r.candidate_total - r.provider_cost, r.currency),
            "rate_before": percent(margin_rate(r.current_total, r.provider_cost)),
            "rate_after": percent(margin_rate(r.candidate_total, r.provider_cost)),
            "more": r.change > 0, "less": r.change < 0,
        } for r in backtest_results(backtest=backtest)]
        return TemplateResponse(request, "admin/lab/backtest/detail.html", {
            **self.admin_site.each_context(request), "title": str(backtest),
            "opts": self.model._meta, "backtest": backtest, "progress": progress_bar(backtest),
            "summary": summary, "totals": _totals(summary, currency), "rows": rows,
            "winners": [_change(c, currency) for c in summary.biggest_winners],
            "losers": [_change(c, currency) for c in summary.biggest_losers],
            "running": backtest.status in (Backtest.Status.QUEUED, Backtest.Status.RUNNING),
        })

    def csv_view(self, request, backtest_id):
        backtest = self._get(request, backtest_id)

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in backtest_csv_rows(backtest=backtest)),
            content_type="text/csv")
        response["Content-Disposition"] = (f'attachment; filename="backtest-{backtest.plan.code}'
                                           f'-v{backtest.plan_version.version}-{backtest.pk}.csv"')
        return response

    def compare_view(self, request):
        ids = request.GET.getlist("id")
        if len(ids) != 2:
            self.message_user(request, "Choose exactly two backtests to compare.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:lab_backtest_changelist"))
        first, second = (self._get(request, pk) for pk in ids)
        a = {c.customer: c for c in customer_changes(backtest=first)}
        b = {c.customer: c for c in customer_changes(backtest=second)}
        currency = first.plan_version.currency
        rows = []
        for customer in sorted(a.keys() | b.keys()):
            left, right = a.get(customer), b.get(customer)
            rows.append({
                "customer": customer,
                "current": shown((left or right).current_total, currency),
                "first": shown(left.candidate_total, currency) if left else "—",
                "second": shown(right.candidate_total, currency) if right else "—",
                "cost": shown((left or right).provider_cost, currency),
                "first_change": shown(left.change, currency) if left else "—",
                "second_change": shown(right.change, currency) if right else "—",
            })
        summaries = [(bt, _totals(backtest_summary(backtest=bt), bt.plan_version.currency))
                     for bt in (first, second)]
        return TemplateResponse(request, "admin/lab/backtest/compare.html", {
            **self.admin_site.each_context(request), "title": "Compare backtests",
            "opts": self.model._meta, "first": first, "second": second,
            "summaries": summaries, "rows": rows,
        })

    # -- list actions ---------------------------------------------------------------------

    @admin.action(description="Compare the two selected backtests side by side")
    def compare_two(self, request, queryset):
        ids = list(queryset.order_by("created_at", "pk").values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(request, "Choose exactly two backtests to compare.", messages.ERROR)
            return None
        query = "&".join(f"id={pk}" for pk in ids)
        return HttpResponseRedirect(f"{reverse('admin:lab_backtest_compare')}?{query}")

    @admin.action(description="Export the selected backtest's results as CSV")
    def export_csv(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            self.message_user(request, "Choose one backtest to export.", messages.ERROR)
            return None
        return HttpResponseRedirect(reverse("admin:lab_backtest_csv", args=[ids[0]]))


def _totals(summary, currency: str) -> dict:
    return {
        "currency": currency, "current": shown(summary.current_total, currency),
        "candidate": shown(summary.candidate_total, currency),
        "change": shown(summary.change, currency), "cost": shown(summary.provider_cost, currency),
        "margin_before": shown(summary.margin_before, currency),
        "margin_after": shown(summary.margin_after, currency),
        "rate_before": percent(summary.margin_rate_before),
        "rate_after": percent(summary.margin_rate_after),
        "more": summary.customers_paying_more, "less": summary.customers_paying_less,
        "same": summary.customers_unchanged, "customers": summary.customers,
    }


def _change(change, currency: str) -> dict:
    return {"customer": change.customer, "current": shown(change.current_total, currency),
            "candidate": shown(change.candidate_total, currency),
            "change": shown(change.change, currency)}
