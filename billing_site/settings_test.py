"""Settings for the test suite: the real settings with a throwaway key and fast hashing."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-never-used-in-production-0123456789")

from billing_site.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
STRIPE_API_KEY = ""
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
if IS_POSTGRES:  # noqa: F405
    # Lets the flush after a transactional test truncate invoices (tests/pg_backend).
    DATABASES["default"]["ENGINE"] = "tests.pg_backend"  # noqa: F405
# Throttle counters in this process only, whatever REDIS_URL says (CI sets it): tests never
# share counts through a Redis server, and tests/conftest.py empties them between tests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
