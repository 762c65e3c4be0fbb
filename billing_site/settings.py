"""Django settings, read from the environment with safe embedded defaults.

With nothing set, the app runs on SQLite under ``var/`` and Celery uses kombu's
``filesystem://`` transport, so a newcomer needs no database or broker server.
Production sets ``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` (Redis),
``DJANGO_SECRET_KEY`` and ``DJANGO_ALLOWED_HOSTS``; see docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from billing_site.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BILLING_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off "
            "(set DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "django-insecure-local-development-only"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "axes",
    "billing_site.apps.BillingSiteConfig",
    "accounts",
    "accounts.outbound",
    "plans",
    "usage",
    "invoices",
    "invoices.alerts",
    "invoices.lab",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (the API docs' Swagger UI and ReDoc, the admin) from
    # gunicorn in production; right after SecurityMiddleware, as whitenoise documents.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as axes documents: it turns a login refused for lockout into the locked-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "billing_site.urls"
WSGI_APPLICATION = "billing_site.wsgi.application"
ASGI_APPLICATION = "billing_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent readers while the worker writes; SQLite is the embedded demo default.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Production serves what `manage.py collectstatic` gathered into STATIC_ROOT; with DEBUG on
# whitenoise also finds files in the apps, so the demo needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
CSRF_FAILURE_VIEW = "common.api.errors.csrf_failure"

# Email (password reset, invitations, alerts). The demo prints mails on the console;
# production sets EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST...
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "billing@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
# A password-reset or invitation link works once and for three days.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_SECONDS", 3 * 24 * 3600)

# Security headers; the HTTPS-only ones are switched on by DJANGO_SECURE_SSL=1 behind TLS.
SECURE_SSL = env_bool("DJANGO_SECURE_SSL", False)
SECURE_SSL_REDIRECT = SECURE_SSL
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_HSTS_PRELOAD = SECURE_SSL
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_SSL else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.auth.HasAdminScope"],
    "DEFAULT_SCHEMA_CLASS": "common.api.schema.ApiAutoSchema",
    # The API speaks JSON (SPEC section 6): a form-encoded body is a 415, not a guess.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "common.api.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["common.api.throttles.ApiKeyRateThrottle"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AI billing API",
    # The docs' opening page: authentication, the error shape, values, pagination.
    "DESCRIPTION": (BASE_DIR / "docs" / "api-intro.md").read_text(encoding="utf-8"),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations grouped by resource (customers, metrics, events...), not all under "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": [
        {"name": "events", "description": "Usage events: what your product sends at every "
                                          "billable action (ingest-scope key)."},
        {"name": "customers", "description": "Who is billed, their seats, their usage and "
                                             "their upcoming invoice."},
        {"name": "metrics", "description": "How events become numbers to price."},
        {"name": "plans", "description": "Offers and their immutable, versioned price books."},
        {"name": "contracts", "description": "A customer on a plan version, with negotiated "
                                             "terms and scheduled migrations."},
        {"name": "invoices", "description": "Drafts, finalized (numbered) and paid or void "
                                            "invoices, line by line."},
        {"name": "billing-runs", "description": "Rating every period that is due, on the "
                                                "worker."},
    ],
    # Swagger UI and ReDoc from our own static files: the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "invoices.models.Invoice.Status",
        "BacktestStatusEnum": "invoices.lab.models.Backtest.Status",
    },
}

# Cache: throttle counters. Redis when CACHE_URL (or REDIS_URL) is set, so every gunicorn
# worker shares one count; else per-process local memory (each worker counts on its own).
CACHE_URL = env_str("CACHE_URL") or env_str("REDIS_URL") or ""
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CACHE_URL, "KEY_PREFIX": "billing"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# API rate limits per API key (common/api/throttles.py; docs/operations.md).
API_THROTTLE_RATE_ADMIN = env_rate("API_THROTTLE_RATE_ADMIN", "1200/min")
API_THROTTLE_RATE_INGEST = env_rate("API_THROTTLE_RATE_INGEST", "12000/min")

# Login lockout (django-axes) for the admin and the customer login: after LOGIN_FAILURE_LIMIT
# wrong passwords for one username from one IP address, that pair is refused for the cool-off
# (every further try restarts it). Attempts live in the database: no cache needed.
AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LoginLockoutBackend",  # first: refuses a locked-out pair before any check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
# A header that the TLS proxy in front *overwrites* with the peer address (e.g. X-Real-IP);
# empty: REMOTE_ADDR. Behind a proxy without it every client shares the proxy's address.
LOGIN_CLIENT_IP_HEADER = env_str("LOGIN_CLIENT_IP_HEADER", "")

# Celery: embedded default is kombu's filesystem transport under var/, no broker server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = VAR_DIR / "celery"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
# On Redis, every broker key starts with this prefix: several apps (or test runs) can share
# one Redis server and database without reading each other's queues.
CELERY_BROKER_KEY_PREFIX = env_str("CELERY_BROKER_KEY_PREFIX", "") or ""
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) and CELERY_BROKER_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": CELERY_BROKER_KEY_PREFIX}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Billing rules that ops may tune (docs/billing-rules.md).
BILLING_GRACE_SECONDS = env_int("BILLING_GRACE_SECONDS", 3600)
BILLING_REVIEW_WINDOW_SECONDS = env_int("BILLING_REVIEW_WINDOW_SECONDS", 24 * 3600)
# Customers per billing task, and the period size from which the run scans raw events once
# (PostgreSQL) instead of asking the usage selectors customer by customer.
BILLING_RUN_CHUNK_SIZE = env_int("BILLING_RUN_CHUNK_SIZE", 5000)
BILLING_USAGE_SCAN_MIN_CUSTOMERS = env_int("BILLING_USAGE_SCAN_MIN_CUSTOMERS", 1000)
# A run's as_of may be this far ahead of the clock (skew), no further; and a contract with
# more periods due than the cap is refused by the run with a recorded failure.
BILLING_AS_OF_SKEW_SECONDS = env_int("BILLING_AS_OF_SKEW_SECONDS", 300)
BILLING_MAX_PERIODS_PER_CONTRACT_RUN = env_int("BILLING_MAX_PERIODS_PER_CONTRACT_RUN", 36)
USAGE_BACKFILL_DAYS = env_int("USAGE_BACKFILL_DAYS", 35)
USAGE_FUTURE_TOLERANCE_SECONDS = env_int("USAGE_FUTURE_TOLERANCE_SECONDS", 300)
# Events commit well within this of their received_at; rollups trust hours older than it.
USAGE_ROLLUP_MARGIN_SECONDS = env_int("USAGE_ROLLUP_MARGIN_SECONDS", 600)

# Who issues the invoices, as the PDF and the invoice page print it: lines split on "|",
# the first is the name ("Example AI Ltd|1 Main Street|London EC1A 1AA|VAT GB123456789").
INVOICE_ISSUER = tuple(
    line.strip() for line in (env_str("INVOICE_ISSUER", "") or "").split("|") if line.strip()
)
# The PDF's paper and font: a TrueType file per weight covering the scripts of customer
# names (e.g. Noto Sans); unset, reportlab's bundled Vera (Latin-1 and a little more).
INVOICE_PDF_PAGE_SIZE = (env_str("INVOICE_PDF_PAGE_SIZE", "A4") or "A4").strip().upper()
if INVOICE_PDF_PAGE_SIZE not in {"A4", "LETTER"}:
    raise ImproperlyConfigured("INVOICE_PDF_PAGE_SIZE must be A4 or LETTER.")
INVOICE_PDF_FONT = env_str("INVOICE_PDF_FONT", "") or ""
INVOICE_PDF_FONT_BOLD = env_str("INVOICE_PDF_FONT_BOLD", "") or ""

# Stripe: with no key, sync is off and the app says so.
STRIPE_API_KEY = env_str("STRIPE_API_KEY", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_HTTP_TIMEOUT = env_int("STRIPE_HTTP_TIMEOUT", 20)
STRIPE_DAYS_UNTIL_DUE = env_int("STRIPE_DAYS_UNTIL_DUE", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
