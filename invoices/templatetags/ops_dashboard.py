"""The ops dashboard on the admin index (templates/admin/index.html): what needs a look
today, each with a link into the filtered change list. The numbers come from
``invoices.ops.reads.dashboard``; this tag only lays them out."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from common.display import money_text
from invoices.ops import reads
from invoices.ops.margins import COST_CURRENCY

register = template.Library()


def _url(name: str, query: str = "") -> str | None:
    try:
        return reverse(name) + query
    except NoReverseMatch:
        return None


@register.inclusion_tag("admin/ops/_dashboard.html", takes_context=True)
def ops_dashboard(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("invoices.view_invoice"):
        return {"dashboard": None}
    day = reads.today()
    board = reads.dashboard(day=day)
    totals = board.totals
    month_start = board.month.first_day.isoformat()
    return {
        "dashboard": board,
        "margins_url": reverse("ops:margins"),
        "revenue": money_text(totals.revenue, COST_CURRENCY, code=True),
        "cost": money_text(totals.cost_shown, COST_CURRENCY, code=True),
        "margin": money_text(totals.margin, COST_CURRENCY, code=True),
        "margin_percent": totals.margin_percent,
        "links": {
            "drafts": _url("admin:invoices_invoice_changelist", "?status__exact=draft"),
            "stripe_failed": _url("admin:invoices_invoice_changelist",
                                  "?stripe_state__exact=failed"),
            "alerts": _url("admin:alerts_alertcrossing_changelist"),
            "unpriced": _url("admin:usage_modelprice_unpriced"),
            "renewals": _url("admin:plans_contract_changelist", "?term_ends=next30"),
        },
        "month_start": month_start,
    }
