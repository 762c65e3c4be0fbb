import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from billing_site.checks import production_settings_are_safe
from billing_site.env import env_bool, env_int, env_rate

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "k9Vx2-Lq8Rz_Tm4Wb7Yc1Nd5Pf3Hg6Js0Ae8Uo2Ii4Ey6Rt1Wq3Zx5Cv7Bn9Ml0Kj2"


def _ids(**overrides):
    with override_settings(**overrides):
        return {problem.id for problem in production_settings_are_safe(None)}


def test_debug_mode_skips_the_production_check():
    assert _ids(DEBUG=True, SECRET_KEY="dev") == set()


def test_short_or_development_secret_key_is_refused_in_production():
    assert "billing.E001" in _ids(DEBUG=False, SECRET_KEY="short")
    assert "billing.E001" in _ids(DEBUG=False, SECRET_KEY="django-insecure-" + "x" * 60)


def test_wildcard_allowed_hosts_is_refused_in_production():
    assert "billing.E002" in _ids(DEBUG=False, SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS=["*"])


def test_stripe_key_without_webhook_secret_is_refused():
    ids = _ids(DEBUG=False, SECRET_KEY=GOOD_KEY, STRIPE_API_KEY="sk_live_x", STRIPE_WEBHOOK_SECRET="")
    assert "billing.E003" in ids


def test_safe_production_settings_pass():
    assert _ids(
        DEBUG=False, SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS=["billing.example.com"],
        IS_POSTGRES=True,
    ) == set()


def test_settings_refuse_to_load_without_secret_key_when_debug_is_off():
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "DJANGO_DEBUG"}}
    env["DJANGO_SETTINGS_MODULE"] = "billing_site.settings"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_env_bool_rejects_garbage(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_FLAG", "yes")
    assert env_bool("X_FLAG") is True


def test_env_int_names_the_variable(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ValueError, match="X_NUM"):
        env_int("X_NUM", 1)
    monkeypatch.delenv("X_NUM")
    assert env_int("X_NUM", 7) == 7


@pytest.mark.parametrize("garbage", ["fast", "0/min", "-5/min", "10/week", "10", "1.5/s"])
def test_env_rate_names_the_variable_and_the_format(monkeypatch, garbage):
    monkeypatch.setenv("X_RATE", garbage)
    with pytest.raises(ValueError, match=r"X_RATE: a rate is '<requests>/<s\|min\|hour\|day>'"):
        env_rate("X_RATE", "5/min")


def test_env_rate_defaults_when_unset_or_empty(monkeypatch):
    monkeypatch.delenv("X_RATE", raising=False)
    assert env_rate("X_RATE", "5/min") == "5/min"
    monkeypatch.setenv("X_RATE", " 30/hour ")
    assert env_rate("X_RATE", "5/min") == "30/hour"


def test_unknown_api_route_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No API route")


def _settings_in_a_fresh_process(code: str, **env_vars) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "billing_site.settings", "DJANGO_DEBUG": "1",
           **env_vars}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import "
                               f"settings; {code}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )


def test_invoice_issuer_and_paper_are_read_from_the_environment():
    result = _settings_in_a_fresh_process(
        "print(settings.INVOICE_ISSUER, settings.INVOICE_PDF_PAGE_SIZE)",
        INVOICE_ISSUER="Example AI Ltd| 1 Main Street ||VAT GB123456789 ",
        INVOICE_PDF_PAGE_SIZE="letter")
    assert result.stdout.strip().splitlines()[-1] == \
        "('Example AI Ltd', '1 Main Street', 'VAT GB123456789') LETTER"
    refused = _settings_in_a_fresh_process("pass", INVOICE_PDF_PAGE_SIZE="legal")
    assert refused.returncode != 0
    assert "INVOICE_PDF_PAGE_SIZE must be A4 or LETTER" in refused.stderr


def test_a_broker_key_prefix_is_handed_to_kombu_on_redis_only():
    code = "print(getattr(settings, 'CELERY_BROKER_TRANSPORT_OPTIONS', {}).get('global_keyprefix'))"
    on_redis = _settings_in_a_fresh_process(
        code, CELERY_BROKER_URL="redis://127.0.0.1:6379/0", CELERY_BROKER_KEY_PREFIX="billing:")
    assert on_redis.stdout.strip().splitlines()[-1] == "billing:"
    unset = _settings_in_a_fresh_process(code, CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
                                         CELERY_BROKER_KEY_PREFIX="")
    assert unset.stdout.strip().splitlines()[-1] == "None"
