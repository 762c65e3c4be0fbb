"""System checks: one refuses a production start with unsafe settings; one refuses a PDF
font that cannot be read; one warns (on ``check --deploy --database default``) when the
app's database role could undo the database's own guards."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections

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


@register(deploy=False)
def invoice_pdf_fonts_are_readable(app_configs, **kwargs):
    """A font that cannot be read would fail every PDF download: say so at start."""
    from reportlab.pdfbase.ttfonts import TTFont

    problems = []
    for name in ("INVOICE_PDF_FONT", "INVOICE_PDF_FONT_BOLD"):
        path = getattr(settings, name)
        if not path:
            continue
        try:
            TTFont(name, path)
        except Exception as error:  # reportlab raises its own TTFError, OSError and others
            problems.append(Error(
                f"{name} ({path}) is not a readable TrueType font: {error}",
                hint="Point it at a .ttf file (e.g. Noto Sans), or unset it for the bundled "
                     "Vera font.", id="billing.E004"))
    return problems


ROLE_HINT = (
    "Migrate as an owner role and run the app as a role that is neither superuser nor a "
    "member of the owner: docs/operations.md, 'Least-privilege database role'."
)

# session_user, not current_user: a login that may SET ROLE (or RESET ROLE back) to a
# superuser or to the tables' owner has that role's powers whatever role it assumed.
# pg_has_role(..., 'MEMBER') is also true for a superuser, hence the superuser case first.
ROLE_SQL = """
SELECT
    EXISTS (SELECT 1 FROM pg_roles WHERE rolsuper AND pg_has_role(session_user, oid, 'MEMBER')),
    session_user,
    ARRAY(
        SELECT DISTINCT tableowner::text FROM pg_tables
        WHERE schemaname = ANY (current_schemas(false)) AND tablename = ANY (%s)
          AND pg_has_role(session_user, tableowner, 'MEMBER')
        ORDER BY 1
    )
"""


def database_role_problems(connection) -> list[Warning]:
    """Why ``connection``'s role could disable the triggers that keep invoices immutable."""
    tables = connection.introspection.django_table_names(only_existing=False)
    with connection.cursor() as cursor:
        cursor.execute(ROLE_SQL, [tables])
        superuser, login, owners = cursor.fetchone()
    if superuser:
        return [Warning(
            f"The app connects to PostgreSQL ({connection.alias}) as {login}, a superuser "
            "(or a member of one): it can disable the triggers that keep finalized "
            "invoices immutable.",
            hint=ROLE_HINT, id="billing.W002",
        )]
    if owners:
        who = "the owner" if owners == [login] else f"a member of {', '.join(owners)}, the owner"
        return [Warning(
            f"The app connects to PostgreSQL ({connection.alias}) as {login}, {who} of its "
            "tables: it can disable the triggers and drop the constraints that guard "
            "invoices.",
            hint=ROLE_HINT, id="billing.W003",
        )]
    return []


@register(Tags.database, Tags.security, deploy=True)
def database_role_is_least_privilege(app_configs, databases=None, **kwargs):
    # Django passes the aliases only to `check --database ALIAS` and `migrate`; without
    # them a check must not touch the database (plain `check` runs with none reachable).
    problems = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor == "postgresql":
            problems.extend(database_role_problems(connection))
    return problems
