"""Two POST /contracts at once for one customer: the database lets exactly one through."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from plans.models import Contract
from tests.factories import CustomerFactory, PlanFactory, make_version


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_make_one_active_contract(admin_key):
    make_version(plan=PlanFactory(code="team"))
    CustomerFactory(external_id="acme")
    body = {"customer": "acme", "plan": "team", "start_date": "2026-10-01"}
    barrier = threading.Barrier(2)
    responses = []

    def create() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_key}")
            barrier.wait(timeout=10)
            responses.append(client.post("/api/v1/contracts", body, format="json"))
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.status_code for r in responses) == [201, 400]
    refused = next(r for r in responses if r.status_code == 400)
    assert "customer" in refused.json()["errors"]
    assert Contract.objects.filter(status="active").count() == 1
