"""A system check that refuses a production start with unsafe settings."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

INSECURE_PREFIXES = ("django-insecure", "test-only", "change-me", "dev")


@register(Tags.security, deploy=False)
def production_settings_are_safe(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    problems = []
    key = settings.SECRET_KEY or ""
    if len(key) < 50 or len(set(key)) < 5 or key.startswith(INSECURE_PREFIXES):
        problems.append(
            Error(
                "DJANGO_SECRET_KEY is too short or a known development value.",
                hint="Set DJANGO_SECRET_KEY to 50+ random characters "
                "(python -c 'import secrets; print(secrets.token_urlsafe(64))').",
                id="billing.E001",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Error("DJANGO_ALLOWED_HOSTS must name the hosts, not '*'.", id="billing.E002")
        )
    if settings.STRIPE_API_KEY and not settings.STRIPE_WEBHOOK_SECRET:
        problems.append(
            Error(
                "STRIPE_API_KEY is set but STRIPE_WEBHOOK_SECRET is not: webhooks "
                "could not be verified.",
                id="billing.E003",
            )
        )
    if not settings.IS_POSTGRES:
        problems.append(
            Warning(
                "Running with DEBUG off on SQLite; production should set DATABASE_URL "
                "to PostgreSQL.",
                id="billing.W001",
            )
        )
    return problems
