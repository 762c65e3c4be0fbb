"""The portal's Alerts page (``/alerts/``): every user of the customer reads the thresholds,
the recipients and this period's crossings; the customer's admins also change them
(``invoices.portal.access.require_customer_admin``: a viewer's POST is a 403)."""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from common.decimals import format_decimal
from invoices.alerts.selectors import alert_settings, current_alerts
from invoices.alerts.services import alert_settings_update
from invoices.portal.access import is_customer_admin, portal_customer, require_customer_admin

_SPLIT = re.compile(r"[\s;]+|,\s+|,(?=\D)")


def split_list(text: str) -> list[str]:
    """"80, 100" or one per line; a comma directly between digits is a thousands one."""
    return [part for part in _SPLIT.split(text.strip()) if part]


class AlertSettingsForm(forms.Form):
    usage_percents = forms.CharField(
        label="Alert when usage reaches these % of each allowance", required=False,
        help_text="e.g. 50, 80, 100. Empty: the defaults, 80 and 100.")
    spend_amounts = forms.CharField(
        label="Alert when the bill so far reaches", required=False,
        help_text="Amounts in your currency, e.g. 500, 1000. Empty: none.")
    projected_amounts = forms.CharField(
        label="Alert when the projected bill reaches", required=False,
        help_text="The period's bill at the current pace. Empty: none.")
    recipients = forms.CharField(
        label="Send alert emails to", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One address per line. Empty: your billing email.")


def _initial(settings) -> dict[str, str]:
    def joined(values) -> str:
        return ", ".join(format_decimal(v) for v in values)
    return {
        "usage_percents": "" if settings.percents_are_defaults else joined(settings.usage_percents),
        "spend_amounts": joined(settings.spend_amounts),
        "projected_amounts": joined(settings.projected_amounts),
        "recipients": "\n".join(settings.recipients),
    }


def _page(request: HttpRequest, form: AlertSettingsForm | None, status: int = 200) -> HttpResponse:
    customer = portal_customer(request)
    settings = alert_settings(customer=customer)
    admin = is_customer_admin(request)
    return render(request, "portal/alerts.html", {
        "customer": customer,
        "settings": settings,
        "crossings": current_alerts(customer=customer, at=timezone.now())[:50],
        "can_change": admin,
        "form": (form or AlertSettingsForm(initial=_initial(settings))) if admin else None,
    }, status=status)


@login_required
def alerts_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save(request)
    return _page(request, None)


@require_customer_admin
def _save(request: HttpRequest) -> HttpResponse:
    form = AlertSettingsForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        alert_settings_update(
            customer=request.portal_customer,
            usage_percents=split_list(data["usage_percents"]),
            spend_amounts=split_list(data["spend_amounts"]),
            projected_amounts=split_list(data["projected_amounts"]),
            recipients=split_list(data["recipients"]),
        )
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return _page(request, form, status=400)
    messages.success(request, "Alert settings saved. They apply from the next evaluation "
                              "(within five minutes).")
    return redirect("portal-alerts")
