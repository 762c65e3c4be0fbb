"""The OpenAPI schema is served and documents these routes."""

from __future__ import annotations

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

OUR_MODULES = ("accounts/api", "plans/api", "accounts.api", "plans.api", "Customer", "Seat",
               "Metric", "PlanVersion", "PlanCharge", "PlanTier", "Contract")


def test_schema_is_served_and_lists_the_contract_routes(anon_api):
    response = anon_api.get("/api/schema/")
    assert response.status_code == 200
    assert "/api/v1/contracts" in response.content.decode()
    paths = anon_api.get("/api/schema/?format=json").json()["paths"]
    for route in ("/api/v1/contracts", "/api/v1/contracts/{contract_id}/migrations",
                  "/api/v1/customers/{external_id}/seats/{seat_id}",
                  "/api/v1/plans/{code}/versions/{version}/publish", "/api/v1/metrics"):
        assert route in paths
    # The trailing-slash twins answer requests but stay out of the schema.
    assert not [path for path in paths if path.endswith("/")]


def test_docs_page_is_served(anon_api):
    assert anon_api.get("/api/docs/").status_code == 200


def test_schema_is_valid_and_these_routes_raise_no_warnings():
    # The whole project's schema must have no errors; warnings are checked for the
    # customer, seat, plan and contract API only (other apps answer for their own).
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)
    ours = [message for message in GENERATOR_STATS._warn_cache
            if any(mark in message for mark in OUR_MODULES)]
    assert not ours
