"""System check: say so when the Stripe sync is off (``manage.py check``, runserver,
worker start), so nobody wonders why invoices never reach Stripe."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register

from invoices.stripe.sync import OFF_MESSAGE


@register(Tags.compatibility)
def stripe_sync_configured(app_configs, **kwargs):
    if settings.STRIPE_API_KEY:
        return []
    return [
        Warning(
            OFF_MESSAGE.rstrip("."),
            hint="Finalized invoices are kept locally with stripe_state 'off'. Set "
            "STRIPE_API_KEY (and STRIPE_WEBHOOK_SECRET) to sync them; invoices finalized "
            "while off can be pushed with the admin action 'Retry Stripe sync'.",
            id="billing.W010",
        )
    ]
