"""Who may call the metric, plan, version and contract routes: only admin-scope keys."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from tests.factories import (
    ContractFactory,
    CustomerFactory,
    MetricFactory,
    PlanFactory,
    make_version,
    row_counts,
)

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/metrics", None, 200),
    ("post", "/api/v1/metrics",
     {"code": "docs", "name": "Docs", "event_type": "doc.done", "aggregation": "count"}, 201),
    ("get", "/api/v1/metrics/tasks", None, 200),
    ("get", "/api/v1/plans", None, 200),
    ("post", "/api/v1/plans", {"code": "pro", "name": "Pro"}, 201),
    ("get", "/api/v1/plans/team", None, 200),
    ("get", "/api/v1/plans/team/versions", None, 200),
    ("post", "/api/v1/plans/team/versions", {"effective_from": "2027-01-01", "seat_price": "50"},
     201),
    ("get", "/api/v1/plans/team/versions/1", None, 200),
    ("patch", "/api/v1/plans/team/versions/2", {"seat_price": "41"}, 200),
    ("post", "/api/v1/plans/team/versions/2/publish", None, 200),
    ("get", "/api/v1/contracts", None, 200),
    ("post", "/api/v1/contracts",
     {"customer": "globex", "plan": "team", "start_date": "2026-10-01"}, 201),
    ("get", "/api/v1/contracts/{contract}", None, 200),
    ("patch", "/api/v1/contracts/{contract}", {"committed_seats": 4}, 200),
    ("get", "/api/v1/contracts/{contract}/migrations", None, 200),
    ("post", "/api/v1/contracts/{contract}/migrations",
     {"plan_version": 3, "effective_date": "2026-12-01"}, 201),
]


@pytest.fixture(autouse=True)
def world():
    with time_machine.travel(dt.datetime(2026, 10, 15, tzinfo=dt.UTC), tick=False):
        MetricFactory(code="tasks")
        team = PlanFactory(code="team")
        make_version(plan=team)  # v1
        make_version(plan=team, publish=False)  # v2, a draft
        make_version(plan=team, seat_price="45")  # v3
        CustomerFactory(external_id="globex")
        contract = ContractFactory(customer=CustomerFactory(external_id="acme"),
                                   plan_version=team.versions.get(version=1))
        yield contract.pk


def call(client, method, path, body, contract_id):
    return getattr(client, method)(path.format(contract=contract_id), body, format="json")


def revoked_key() -> str:
    key, raw = api_key_create(name="old", scope=ApiKey.Scope.ADMIN)
    api_key_revoke(key=key, now=timezone.now())
    return raw


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
@pytest.mark.parametrize("who", ["no key", "wrong key", "revoked key"])
def test_without_a_valid_key_the_answer_is_401_and_nothing_changes(
    world, method, path, body, ok, who
):
    client = APIClient()
    raw = {"no key": None, "wrong key": "bk_admin_00000000_nope", "revoked key": revoked_key()}[who]
    if raw is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    before = row_counts()
    response = call(client, method, path, body, world)
    assert response.status_code == 401, response.content
    assert row_counts() == before


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
def test_ingest_key_is_403_and_nothing_changes(world, ingest_api, method, path, body, ok):
    before = row_counts()
    response = call(ingest_api, method, path, body, world)
    assert response.status_code == 403, response.content
    assert row_counts() == before


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
def test_admin_key_may_use_every_route(world, api, method, path, body, ok):
    with time_machine.travel(dt.datetime(2026, 10, 15, tzinfo=dt.UTC), tick=False):
        response = call(api, method, path, body, world)
    assert response.status_code == ok, response.content
