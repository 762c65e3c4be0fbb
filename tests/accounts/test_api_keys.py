"""API keys are stored hashed and never come back in any answer."""

from __future__ import annotations

import hashlib

import pytest

from accounts.models import ApiKey
from tests.factories import ContractFactory, CustomerFactory, SeatFactory

pytestmark = pytest.mark.django_db


def test_only_the_hash_and_prefix_are_stored(admin_key):
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(admin_key.encode()).hexdigest()
    assert key.prefix in admin_key
    stored = " ".join(str(getattr(key, f.attname)) for f in ApiKey._meta.concrete_fields)
    assert admin_key not in stored


def test_no_answer_carries_the_key_or_its_hash(api, admin_key):
    contract = ContractFactory(customer=CustomerFactory(external_id="acme"))
    seat = SeatFactory(customer=contract.customer)
    plan = contract.plan_version.plan.code
    key_hash = ApiKey.objects.get().key_hash
    paths = [
        "/api/v1/customers", "/api/v1/customers/acme", "/api/v1/customers/acme/seats",
        f"/api/v1/customers/acme/seats/{seat.pk}", "/api/v1/metrics", "/api/v1/plans",
        f"/api/v1/plans/{plan}", f"/api/v1/plans/{plan}/versions",
        f"/api/v1/plans/{plan}/versions/1", "/api/v1/contracts", f"/api/v1/contracts/{contract.pk}",
        f"/api/v1/contracts/{contract.pk}/migrations", "/api/v1/customers/nobody",
        "/api/schema/",
    ]
    responses = [api.get(path) for path in paths]
    responses.append(api.post("/api/v1/customers", {"external_id": "x"}, format="json"))
    responses.append(api.patch("/api/v1/customers/acme", {"name": "Acme 2"}, format="json"))
    for response in responses:
        content = response.content.decode()
        assert admin_key not in content
        assert key_hash not in content
        assert admin_key not in str(response.headers)
