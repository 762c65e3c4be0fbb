"""The lab's pricing pages in the admin (staff only): "Archetypes & recommendations" and
"Pre-launch estimates". Thin: a form over the query string, one selector, a template.

Mounted under ``/admin/lab/`` (``invoices/lab/admin_urls.py``, ahead of the admin site,
as the ops views are), each view wrapped by the admin site's ``admin_view``. The
distribution chart is drawn by ``invoices/static/lab/pricing.js`` with the vendored
Chart.js from ``json_script`` data: no inline script.
"""

from __future__ import annotations

import datetime as dt
from functools import wraps

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from common.display import money_text, quantity_text
from invoices.lab.archetypes import PLAN_KINDS, SEAT_ONLY, price_profiles, seat_only_terms
from invoices.lab.customer_periods import NoPriceBook
from invoices.lab.estimates import (
    EstimateInputs,
    UnknownModel,
    advise,
    estimate,
    price_of,
)
from invoices.lab.pricing_forms import ArchetypeForm, EstimateForm, initial_or_bound
from invoices.lab.pricing_selectors import archetype_report, plan_recommendation, version_terms
from invoices.lab.recommendations import EmptySample, recommendation_draft
from plans.periods import Period, add_months

VIEW_PERMISSION = "plans.view_planversion"
ADD_PERMISSION = "plans.add_planversion"


def lab_view(permission: str = VIEW_PERMISSION):
    def decorate(view):
        @wraps(view)
        def checked(request: HttpRequest, *args, **kwargs):
            if not request.user.has_perm(permission):
                raise PermissionDenied("The pricing lab needs permission to view plan versions.")
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def _context(request: HttpRequest, title: str, **extra) -> dict:
    return {**admin.site.each_context(request), "title": title, **extra}


def _percent(value) -> str:
    return "—" if value is None else f"{value}%"


def _bills(archetype, currency: str) -> list[dict]:
    return [{"kind": kind, "label": PLAN_KINDS[kind],
             "total": money_text(bill.total, currency),
             "margin": money_text(bill.margin, currency),
             "margin_percent": _percent(bill.margin_percent), "losing": bill.margin < 0}
            for kind, bill in archetype.bills.items()]


def _archetype_rows(archetypes, currency: str, metrics) -> list[dict]:
    return [{"name": a.profile.name, "percentile": a.profile.percentile,
             "seat_cost": money_text(a.profile.seat_cost, currency),
             "usage": [quantity_text(a.profile.seat_usage.get(m)) for m in metrics],
             "bills": _bills(a, currency)}
            for a in archetypes]


def _recommendation(found) -> dict | None:
    if found is None:
        return None
    currency = found.currency
    return {
        "seat_price": money_text(found.seat_price, currency, code=True),
        "percentile": found.percentile,
        "seat_cost_at_percentile": money_text(found.seat_cost_at_percentile, currency),
        "target_margin": quantity_text(found.target_margin * 100),
        "share": quantity_text(found.share * 100),
        "allowances": [{"metric": m, "included": found.included_per_seat[m],
                        "usage": quantity_text(found.usage_at_share[m]),
                        "within": found.within_allowance[m]}
                       for m in found.included_per_seat],
        "spread": quantity_text(found.verdict.spread) if found.verdict.spread is not None
        else "∞", "unsafe": found.verdict.unsafe,
        "money_at_stake": money_text(found.exposure.money_at_stake, currency, code=True),
        "covered": money_text(found.exposure.covered_seat_cost, currency),
        "periods_above": found.exposure.periods_above,
        "their_cost": money_text(found.exposure.their_cost, currency),
        "customer_periods": found.customer_periods,
    }


def _chart(report) -> dict:
    currency = report.book.currency
    return {
        "labels": [f"{money_text(b.low, currency)}–{money_text(b.high, currency)}"
                   for b in report.chart],
        "values": [b.count for b in report.chart],
        "label": "Customer-periods by provider cost per seat",
        "markers": {} if report.distribution.seat_cost is None else {
            f"P{q}": float(report.distribution.seat_cost.at(q)) for q in (20, 50, 80, 95)},
    }


@lab_view()
def archetypes_page(request: HttpRequest) -> HttpResponse:
    form = initial_or_bound(ArchetypeForm, request.GET)
    context = {"form": form, "report": None}
    if form.is_bound and form.is_valid():
        plan = form.cleaned_data["plan"]
        try:
            report = archetype_report(plan=plan, periods=form.cleaned_data["periods"],
                                      now=timezone.now(), candidate=form.cleaned_data["candidate"],
                                      settings=form.settings())
        except NoPriceBook as error:
            form.add_error("plan", str(error))
        else:
            currency = report.book.currency
            metrics = list(report.distribution.seat_usage)
            context.update(
                report=report, plan=plan, currency=currency, metrics=metrics,
                kinds=[PLAN_KINDS[k] for k in (report.archetypes[0].bills
                                               if report.archetypes else ())],
                archetypes=_archetype_rows(report.archetypes, currency, metrics),
                recommendation=_recommendation(report.recommendation),
                chart=_chart(report), query=request.GET.urlencode(),
                can_draft=request.user.has_perm(ADD_PERMISSION),
            )
    return TemplateResponse(request, "admin/lab/archetypes.html",
                            _context(request, "Archetypes & recommendations", **context))


@require_POST
@lab_view(ADD_PERMISSION)
def draft_from_recommendation(request: HttpRequest) -> HttpResponse:
    """One click: the recommendation of the form's settings as a draft version."""
    form = ArchetypeForm(request.POST)
    back = reverse("lab:archetypes")
    if not form.is_valid():
        messages.error(request, f"Nothing drafted: {form.errors.as_text()}")
        return HttpResponseRedirect(back)
    plan = form.cleaned_data["plan"]
    now = timezone.now()
    try:
        found = plan_recommendation(plan=plan, periods=form.cleaned_data["periods"], now=now,
                                    settings=form.settings())
        draft = recommendation_draft(plan=plan, recommendation=found, today=now.date())
    except (EmptySample, NoPriceBook) as error:
        messages.error(request, f"Nothing drafted: {error}")
        return HttpResponseRedirect(back)
    except ValidationError as error:
        messages.error(request, f"Nothing drafted: {' '.join(error.messages)}")
        return HttpResponseRedirect(back)
    messages.success(request, f"Draft {plan.code} v{draft.version} made: seat price "
                              f"{money_text(draft.seat_price, draft.currency, code=True)}. "
                              f"Backtest it, then publish it.")
    return HttpResponseRedirect(reverse("admin:plans_planversion_change", args=[draft.pk]))


def _month(today: dt.date) -> Period:
    start = today.replace(day=1)
    return Period(start, add_months(start, 1))


@lab_view()
def estimates_page(request: HttpRequest) -> HttpResponse:
    form = initial_or_bound(EstimateForm, request.GET)
    context: dict = {"form": form, "result": None}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        provider, model = form.provider_and_model()
        now = timezone.now()
        try:
            price = price_of(model=model, provider=provider, at=now)
        except UnknownModel as error:
            form.add_error("model", str(error))
        else:
            found = estimate(EstimateInputs(
                actions_per_month={n: data[n] for n in ("light", "median", "heavy", "tail")},
                calls_per_action=data["calls_per_action"],
                input_tokens_per_call=data["input_tokens"],
                output_tokens_per_call=data["output_tokens"], price=price,
                action_metric=data["action_metric"] or None,
                call_metric=data["call_metric"] or None,
                token_metric=data["token_metric"] or None,
            ))
            currency = data["currency"]
            advice = advise(found, target_margin=data["target_margin"], currency=currency)
            version = data["plan"]
            books = {SEAT_ONLY: seat_only_terms(seat_price=advice.seat_price, currency=currency)}
            if version is not None:
                books["current"] = version_terms(version)
            priced = price_profiles(found.profiles, books=books, period=_month(now.date()))
            context["result"] = {
                "call_cost": money_text(found.call_cost, "USD"),
                "seat_price": money_text(advice.seat_price, currency, code=True),
                "spread": "∞" if advice.verdict.spread is None
                else quantity_text(advice.verdict.spread),
                "unsafe": advice.verdict.unsafe,
                "covered": money_text(advice.exposure.covered_seat_cost, currency),
                "money_at_stake": money_text(advice.exposure.money_at_stake, currency),
                "version": version,
                "kinds": [PLAN_KINDS[SEAT_ONLY]] + ([str(version)] if version else []),
                "rows": [{
                    "name": a.profile.name, "percentile": a.profile.percentile,
                    "actions": quantity_text(data[a.profile.name]),
                    "calls": quantity_text(found.calls_per_month[a.profile.name]),
                    "tokens": quantity_text(found.tokens_per_month[a.profile.name]),
                    "seat_cost": money_text(a.profile.seat_cost, currency),
                    "bills": _bills(a, currency),
                } for a in priced],
            }
    return TemplateResponse(request, "admin/lab/estimates.html",
                            _context(request, "Pre-launch estimates", **context))
