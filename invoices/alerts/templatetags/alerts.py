"""``{% load alerts %}{% customer_alerts customer %}``: the dashboard's alerts panel (the
crossings of the period open now, and the thresholds in force). The dashboard only
includes ``templates/portal/_alerts.html``; this tag gives it its data."""

from __future__ import annotations

from django import template
from django.utils import timezone

from invoices.alerts.selectors import alert_settings, current_alerts

register = template.Library()


@register.inclusion_tag("portal/_alerts_panel.html", takes_context=True)
def customer_alerts(context, customer):
    now = context.get("now") or timezone.now()
    return {
        "customer": customer,
        "crossings": list(current_alerts(customer=customer, at=now)[:20]) if customer else [],
        "settings": alert_settings(customer=customer) if customer else None,
    }
