"""The lab's migration planning page in the admin (staff only): choose contracts and a
target version, see each customer's effect, then schedule the migrations with notice in
one action or grandfather the contracts until renewal (``invoices.lab.migration_planning``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils import timezone

from common.display import money_text
from invoices.lab.migration_planning import (
    AT_RENEWAL,
    MIGRATE,
    chosen_contracts,
    effect_totals,
    effects,
    grandfather_until_renewal,
    plan_steps,
    schedule_migrations,
)
from invoices.lab.pricing_admin import VIEW_PERMISSION, _context, lab_view
from invoices.lab.pricing_forms import MigrationPlanForm, initial_or_bound

CHANGE_PERMISSION = "plans.change_contract"


def _effect_row(effect, currency: str) -> dict:
    if effect is None:
        return {"known": False}
    return {"known": True, "periods": effect.periods, "source": effect.source,
            "current": money_text(effect.current_total, currency),
            "candidate": money_text(effect.candidate_total, currency),
            "change": money_text(effect.change, currency), "more": effect.change > 0,
            "cost": money_text(effect.provider_cost, currency),
            "margin_before": money_text(effect.margin_before, currency),
            "margin_after": money_text(effect.margin_after, currency),
            "losing_after": effect.margin_after < 0}


def _act(request: HttpRequest, form: MigrationPlanForm) -> HttpResponse:
    data = form.cleaned_data
    today = timezone.now().date()
    contracts = chosen_contracts(plan=data["plan"], today=today, version=data["version"],
                                 customers=data["customers"])
    back = HttpResponseRedirect(f"{request.path}?{request.POST.urlencode()}")
    if not request.user.has_perm(CHANGE_PERMISSION):
        messages.error(request, "Changing contracts needs permission to change contracts.")
        return back
    try:
        if request.POST.get("action") == "grandfather":
            changed = grandfather_until_renewal(contracts=contracts)
            messages.success(request, f"{len(changed)} contract(s) will renew onto the plan's "
                                      "current version; the others were already set so, "
                                      "or never renew.")
        else:
            done = schedule_migrations(contracts=contracts, target=data["target"], today=today,
                                       notice_days=data["notice_days"])
            messages.success(request, f"{len(done)} migration(s) to {data['target']} scheduled "
                                      "with notice; the customers see them on their usage page.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return back


@lab_view(VIEW_PERMISSION)
def migration_planning_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = MigrationPlanForm(request.POST)
        if form.is_valid():
            return _act(request, form)
    else:
        form = initial_or_bound(MigrationPlanForm, request.GET)
    context: dict = {"form": form, "steps": None}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        now = timezone.now()
        try:
            contracts = chosen_contracts(plan=data["plan"], today=now.date(),
                                         version=data["version"], customers=data["customers"])
        except ValidationError as error:
            form.add_error("customers", " ".join(error.messages))
        else:
            target = data["target"]
            steps = plan_steps(contracts, target=target, today=now.date(),
                               notice_days=data["notice_days"])
            found, backtest = effects(contracts, target=target, now=now)
            currency = target.currency
            totals = effect_totals(found)
            context.update(
                target=target, backtest=backtest, currency=currency,
                steps=[{"step": s, "effect": _effect_row(found.get(s.customer), currency)}
                       for s in steps],
                to_migrate=sum(1 for s in steps if s.action == MIGRATE),
                at_renewal=sum(1 for s in steps if s.action == AT_RENEWAL),
                totals={"current": money_text(totals["current_total"], currency, code=True),
                        "candidate": money_text(totals["candidate_total"], currency, code=True),
                        "change": money_text(totals["change"], currency, code=True),
                        "more": totals["paying_more"], "less": totals["paying_less"]},
                can_change=request.user.has_perm(CHANGE_PERMISSION),
            )
    return TemplateResponse(request, "admin/lab/migration_planning.html",
                            _context(request, "Migration planning", **context))
