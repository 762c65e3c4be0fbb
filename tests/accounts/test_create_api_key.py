"""``manage.py create_api_key``: the key is printed once, last; only its hash is kept."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue().splitlines()


def get_customers(raw_key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client.get("/api/v1/customers")


@pytest.mark.parametrize("scope", ["admin", "ingest"])
def test_last_line_is_the_new_key_and_only_its_hash_is_stored(scope):
    lines = run("--name", "ops laptop", "--scope", scope)
    raw_key = lines[-1]
    assert raw_key.strip() == raw_key and " " not in raw_key
    assert any("once" in line for line in lines[:-1])
    key = ApiKey.objects.get()
    assert (key.name, key.scope) == ("ops laptop", scope)
    assert key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key.split("_")[2] == key.prefix
    assert key.prefix in "\n".join(lines[:-1])


def test_the_printed_admin_key_authenticates():
    raw_key = run("--name", "ci", "--scope", "admin")[-1]
    assert get_customers(raw_key).status_code == 200


def test_the_printed_ingest_key_is_refused_on_admin_routes():
    raw_key = run("--name", "collector", "--scope", "ingest")[-1]
    assert get_customers(raw_key).status_code == 403


def test_revoke_by_prefix_makes_the_key_a_401():
    raw_key = run("--name", "ci", "--scope", "admin")[-1]
    prefix = ApiKey.objects.get().prefix
    lines = run("--revoke", prefix)
    assert "Revoked" in lines[-1]
    assert ApiKey.objects.get().revoked_at is not None
    assert get_customers(raw_key).status_code == 401
    assert "Already revoked" in run("--revoke", prefix)[-1]


@pytest.mark.parametrize(
    "args",
    [
        ("--name", "x", "--scope", "root"),
        ("--scope", "admin"),
        ("--name", "x"),
        ("--name", "   ", "--scope", "admin"),
        ("--revoke", "nosuchprefix"),
        ("--revoke", "abc", "--name", "x"),
    ],
)
def test_bad_arguments_are_refused_and_create_nothing(args):
    with pytest.raises(CommandError):
        run(*args)
    assert not ApiKey.objects.exists()
