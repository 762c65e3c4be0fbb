"""The customer's dashboard at ``/``: where a login lands. Thin: the read is
``invoices.selectors.dashboard.customer_dashboard``; this lays it out for the template
and for the charts (``invoices/static/portal/dashboard.js`` reads ``chart_data`` from a
``json_script`` tag, so the page carries no inline script)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from invoices.portal.access import portal_customer
from invoices.portal.wording import line_words, money, quantity, unit_name
from invoices.portal.wording import period as period_words
from invoices.rating import ChargeTerms, Tier
from invoices.rating.compare import Kind, TermChange
from invoices.rating.projection import Method, percent, project_value
from invoices.selectors.dashboard import Dashboard, MetricSeries, customer_dashboard

MIX_TITLES = {"initiated_by": "Who started the calls", "model": "By model",
              "latency_tier": "By latency tier"}


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """Staff go to the admin; a customer's user sees their own customer's dashboard (any
    other login: 404, like every portal page)."""
    if request.user.is_staff:
        return redirect("admin:index")
    customer = portal_customer(request)
    dashboard = customer_dashboard(customer=customer, at=timezone.now())
    return render(request, "portal/dashboard.html", {
        "customer": customer,
        "dashboard": dashboard,
        "period_words": period_words(dashboard.period.start, dashboard.period.end)
        if dashboard.period else "",
        "charges": [{"charge": c, "unit": unit_name(c.name),
                     "price": price_words(c.terms, dashboard.currency, unit_name(c.name))}
                    for c in dashboard.charges],
        "migrations": [{"migration": m, "changes": [
            change_words(change, dashboard.currency) for change in m.changes]}
            for m in (dashboard.contract.migrations if dashboard.contract else ())],
        "mix": _mix(dashboard),
        "bill_lines": line_words(
            dashboard.document.lines, currency=dashboard.currency,
            metric_names={s.code: s.name for s in dashboard.series},
            seat_equivalents=dashboard.document.seat_equivalents) if dashboard.document else [],
        "past_rows": _past(dashboard),
        **_elapsed(dashboard),
        "chart_data": chart_data(dashboard),
        # Formatted here, not by template filters: a month of days per metric is the
        # page's longest loop.
        "series": [{"series": series, "rows": [
            (f"{day:%a} {day.day} {day:%b}", quantity(value)) for day, value in series.days]}
            for series in dashboard.series],
    })


def _past(dashboard: Dashboard) -> list[dict]:
    """Earlier periods as table rows: each charge of the open period in its column."""
    keys = [c.key for c in dashboard.charges]
    return [{"invoice_id": p.invoice_id, "number": p.number, "status": p.status,
             "period": period_words(p.period.start, p.period.end), "total": p.total,
             "currency": p.currency, "values": [p.usage.get(key) for key in keys]}
            for p in dashboard.past]


def _elapsed(dashboard: Dashboard) -> dict:
    if dashboard.pace is None:
        return {}
    pace = dashboard.pace
    return {"elapsed_percent": percent(pace.fraction, Decimal(1)),
            "hundred_projects_to": project_value(Decimal(100), pace=pace, method=Method.LINEAR)}


def _mix(dashboard: Dashboard) -> list[dict]:
    if dashboard.mix is None:
        return []
    total = dashboard.mix.tokens
    tables = []
    for dimension, title in MIX_TITLES.items():
        rows = dashboard.mix.by.get(dimension, ())
        tables.append({"dimension": dimension, "title": title, "rows": [
            {"member": row.member, "calls": row.calls, "tokens": row.tokens,
             "events": row.events, "share": _share(row.tokens, total)}
            for row in rows]})
    return tables


def _share(part: Decimal, whole: Decimal) -> Decimal | None:
    return percent(part, whole) if whole else None


def _number(value: Decimal | None) -> float | None:
    # Chart.js draws numbers; the exact values are in the page's text and tables.
    return None if value is None else float(value)


def _chart(series: MetricSeries) -> dict:
    values = dict(series.days)
    daily, cumulative, running = [], [], Decimal(0)
    adds_up = series.aggregation in ("sum", "count")
    for day in series.period_days:
        value = values.get(day)
        daily.append(_number(value))
        if value is not None:
            running += value
        cumulative.append(_number(running) if value is not None and adds_up else None)
    pace = None
    if adds_up and series.projected is not None and series.period_days:
        count = len(series.period_days)
        pace = [_number(series.projected * (n + 1) / count) for n in range(count)]
    return {
        "code": series.code, "name": series.name,
        "labels": [day.isoformat() for day in series.period_days],
        "daily": daily, "cumulative": cumulative if adds_up else None, "pace": pace,
        "allowance": _number(series.allowance) if adds_up else None,
    }


def chart_data(dashboard: Dashboard) -> dict:
    return {"series": [_chart(series) for series in dashboard.series]}


MODELS = {"per_unit": "per unit", "package": "in packages", "graduated": "in graduated tiers",
          "volume": "at one volume price for all units"}


def _tiers(tiers: tuple[Tier, ...], currency: str) -> str:
    parts, floor = [], None
    for tier in tiers:
        price = f"{money(tier.unit_price, currency)} each"
        if tier.flat_fee:
            price += f" + {money(tier.flat_fee, currency)}"
        if tier.up_to is None:
            parts.append(f"above {quantity(floor)}: {price}" if floor is not None else price)
        else:
            parts.append(f"up to {quantity(tier.up_to)}: {price}")
        floor = tier.up_to
    return "; ".join(parts)


def price_words(terms: ChargeTerms, currency: str, unit: str) -> str:
    """What a unit above the allowance costs, in words."""
    if terms.model == "per_unit":
        return f"{money(terms.unit_price, currency)} each"
    if terms.model == "package":
        return (f"{money(terms.package_price, currency)} per package of "
                f"{quantity(terms.package_size)} {unit} (a started package counts)")
    kind = "graduated tiers" if terms.model == "graduated" else "volume tiers (one price for all)"
    return f"{kind}: {_tiers(terms.tiers, currency)}"


def _value_words(change: TermChange, value, currency: str) -> str:
    if value is None:
        return "—"
    if change.kind == Kind.MONEY:
        return money(value, currency)
    if change.kind == Kind.QUANTITY:
        return quantity(value)
    if change.kind == Kind.PERCENT:
        return f"{quantity(value)}%"
    if change.kind == Kind.TIERS:
        return _tiers(value, currency) if value else "no tiers"
    return MODELS.get(str(value), str(value))


def change_words(change: TermChange, currency: str) -> dict:
    return {"subject": change.subject, "before": _value_words(change, change.before, currency),
            "after": _value_words(change, change.after, currency)}
