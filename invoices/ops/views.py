"""The ops views in the admin (staff only): the margin report, a customer's drill-down,
and their CSV exports. Thin: parse the query string, call ``invoices.ops.reads``, render.

Mounted under ``/admin/ops/`` (``invoices/ops/urls.py``), each view wrapped by the admin
site's ``admin_view``: a customer's user (not staff) is sent to the admin login, and a
staff user without the invoice view permission gets a 403.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import wraps

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import Customer
from common.decimals import format_decimal
from common.display import money_text, quantity_text
from invoices.ops import kept, reads
from invoices.ops.margins import COST_CURRENCY, SORTS, Month, recent_months
from plans.models import Contract

PAGE_ROWS = 100  # the table; the CSV has every row
CHART_ROWS = 20  # the margin chart: the lowest margins
PERMISSION = "invoices.view_invoice"


def staff_view(view):
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            raise PermissionDenied("The ops views need permission to view invoices.")
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _month(request: HttpRequest, day) -> Month:
    return Month.parse(request.GET.get("month")) or Month.of(day)


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _plain(value) -> str:
    """Exact decimals for spreadsheets (no grouping), empty for none."""
    if value is None:
        return ""
    return format_decimal(value) if isinstance(value, Decimal) else str(value)


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


# --- The margin report ------------------------------------------------------------------


@staff_view
def margin_report(request: HttpRequest) -> HttpResponse:
    day = reads.today()
    month = _month(request, day)
    sort = request.GET.get("sort", "margin")
    sort = sort if sort in SORTS else "margin"
    descending = request.GET.get("dir") == "desc"
    export = request.GET.get("export")
    if export == "models":
        return _models_csv(month)
    if export == "renewals":
        return _renewals_csv(day)
    report = reads.margin_report(month=month, day=day, sort=sort, descending=descending,
                                 refresh=request.GET.get("refresh") == "1")
    if export == "margins":
        return _margins_csv(report)
    page = Paginator(report.rows, PAGE_ROWS).get_page(request.GET.get("page"))
    chart_rows = sorted((r for r in report.rows if r.margin is not None),
                        key=lambda r: r.margin)[:CHART_ROWS]
    models = reads.cost_by_model(month)
    return TemplateResponse(request, "admin/ops/margin_report.html", _context(
        request, f"Margin report, {month.label}",
        month=month, months=recent_months(day), report=report, page=page,
        rows=[_row(r, month) for r in page.object_list],
        sort=sort, descending=descending, columns=_columns(sort, descending, month),
        totals=_totals(report.totals), cost_currency=COST_CURRENCY,
        margin_chart={
            "labels": [r.customer.external_id for r in chart_rows],
            "values": [float(r.margin) for r in chart_rows],
            "label": f"Gross margin ({COST_CURRENCY})",
        },
        models=[{"model": m.member, "events": quantity_text(m.events),
                 "tokens": quantity_text(m.total_tokens),
                 "cost": money_text(m.cost, COST_CURRENCY), "unpriced": m.unpriced}
                for m in models],
        model_chart={"labels": [m.member for m in models[:12]],
                     "values": [float(m.cost) for m in models[:12]],
                     "label": f"Provider cost ({COST_CURRENCY})"},
        renewals=reads.renewals_due(day=day), renewal_days=reads.RENEWAL_DAYS,
        fresh_minutes=int(kept.FRESH.total_seconds() // 60),
        unpriced=reads.unpriced_models(),
    ))


def _row(row, month: Month) -> dict:
    return {
        "customer": row.customer,
        "url": reverse("ops:customer", args=[row.customer.customer_id]) + f"?month={month}",
        "revenue": money_text(row.revenue, row.currency, code=True),
        "cost": money_text(row.cost_shown, COST_CURRENCY),
        "margin": "—" if row.margin is None else money_text(row.margin_shown, row.currency),
        "margin_percent": "—" if row.margin_percent is None else f"{row.margin_percent}%",
        "losing": row.losing,
        "estimated": row.estimated,
    }


def _columns(sort: str, descending: bool, month: Month) -> list[dict]:
    names = [("customer", "Customer"), ("revenue", "Revenue"),
             ("cost", f"Provider cost ({COST_CURRENCY})"), ("margin", "Gross margin"),
             ("margin_percent", "Margin %")]
    columns = []
    for key, label in names:
        flip = "asc" if sort == key and descending else "desc" if sort == key else "asc"
        columns.append({"key": key, "label": label, "sorted": sort == key,
                        "descending": descending,
                        "url": f"?month={month}&sort={key}&dir={flip}"})
    return columns


def _totals(totals) -> dict:
    return {
        "customers": totals.customers, "losing": totals.losing,
        "revenue": money_text(totals.revenue, COST_CURRENCY, code=True),
        "cost": money_text(totals.cost_shown, COST_CURRENCY, code=True),
        "margin": money_text(totals.margin, COST_CURRENCY, code=True),
        "margin_percent": "—" if totals.margin_percent is None else f"{totals.margin_percent}%",
        "not_comparable": totals.not_comparable,
    }


def _margins_csv(report) -> HttpResponse:
    return _csv(f"margins-{report.month}", [
        "customer", "name", "currency", "revenue", "estimated", f"provider_cost_{COST_CURRENCY}",
        "gross_margin", "margin_percent", "money_losing",
    ], ([r.customer.external_id, r.customer.name, r.currency, _plain(r.revenue),
         "yes" if r.estimated else "no", _plain(r.cost), _plain(r.margin),
         _plain(r.margin_percent), "yes" if r.losing else "no"] for r in report.rows))


def _models_csv(month: Month) -> HttpResponse:
    return _csv(f"cost-by-model-{month}", [
        "model", "calls", "total_tokens", f"provider_cost_{COST_CURRENCY}", "unpriced_calls",
    ], ([m.member, m.events, _plain(m.total_tokens), _plain(m.cost), m.unpriced]
        for m in reads.cost_by_model(month)))


def _renewals_csv(day) -> HttpResponse:
    return _csv(f"renewals-{day.isoformat()}", [
        "customer", "contract", "plan_version", "term_ends", "auto_renew", "renewal",
    ], ([c.customer.external_id, c.pk, str(c.plan_version), c.end_date.isoformat(),
         "yes" if c.auto_renew else "no", c.renewal] for c in reads.renewals_due(day=day)))


# --- One customer -------------------------------------------------------------------------


@staff_view
def customer_report(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=customer_id)
    day = reads.today()
    month = _month(request, day)
    report = reads.customer_report(customer=customer, month=month, day=day)
    if request.GET.get("export") == "seats":
        return _csv(f"seats-{customer.external_id}-{month}", [
            "seat", "events", "total_tokens", f"provider_cost_{COST_CURRENCY}",
        ], ([s["member"], s["events"], _plain(s["tokens"]), _plain(s["cost"])]
            for s in report.seats))
    if request.GET.get("export"):
        raise Http404("No such export.")
    tail = report.tail
    return TemplateResponse(request, "admin/ops/customer_report.html", _context(
        request, f"{customer.external_id}: usage and cost, {month.label}",
        customer=customer, month=month, months=recent_months(day), report=report,
        margin=_row(report.margin, month), cost_currency=COST_CURRENCY,
        seats=[{**s, "events": quantity_text(s["events"]), "tokens": quantity_text(s["tokens"]),
                "cost": money_text(s["cost"], COST_CURRENCY)} for s in report.seats],
        initiated=[{**s, "events": quantity_text(s["events"]),
                    "tokens": quantity_text(s["tokens"]),
                    "cost": money_text(s["cost"], COST_CURRENCY),
                    "share": report.initiated_shares.get(s["member"])}
                   for s in report.initiated_by],
        models=[{**s, "events": quantity_text(s["events"]), "tokens": quantity_text(s["tokens"]),
                 "cost": money_text(s["cost"], COST_CURRENCY)} for s in report.models],
        tail={"top_decile_share": tail.top_decile_share,
              "median": None if tail.median is None else money_text(tail.median, COST_CURRENCY),
              "max_to_median": tail.max_to_median, "seats": len(tail.seats)},
        seat_chart={"labels": [s for s, _ in tail.seats],
                    "values": [float(c) for _, c in tail.seats],
                    "label": f"Provider cost per seat ({COST_CURRENCY})"},
        initiated_chart={"labels": [s["member"] for s in report.initiated_by],
                         "values": [float(s["cost"]) for s in report.initiated_by],
                         "label": f"Provider cost ({COST_CURRENCY})"},
        contract=Contract.objects.filter(customer=customer, status=Contract.Status.ACTIVE)
        .select_related("plan_version__plan").first(),
    ))
