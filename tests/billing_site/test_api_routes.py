"""Every API route answers the same with and without a trailing slash.

The routes are read from the URL conf itself, so a route added later without its twin
fails here. ``/api/schema`` and ``/api/docs`` are routes like the others.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version

pytestmark = pytest.mark.django_db

# Path converters get a value that names a real row where one exists (see ``catalog``).
SAMPLE_VALUES = {"external_id": "acme", "code": "tasks", "version": "1", "seat_id": "1",
                 "contract_id": "1", "migration_id": "1", "invoice_id": "nope", "run_id": "nope",
                 "backtest_id": "nope"}
METHODS = ["get", "post", "patch", "put", "delete"]


def api_routes() -> list[str]:
    """Every concrete route under api/ (the catch-all for unknown paths aside)."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/") and "^" not in route:
                found.append(route)

    walk(get_resolver().url_patterns, "")
    return found


def concrete(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES[m.group(1)], route)


ROUTES = sorted({route.rstrip("/") for route in api_routes()})


@pytest.fixture
def catalog():
    CustomerFactory(external_id="acme")
    MetricFactory(code="tasks")
    make_version(plan=PlanFactory(code="tasks"))


def test_every_api_route_has_both_forms_in_the_url_conf():
    routes = set(api_routes())
    missing = [f"/{route}" for route in ROUTES if route not in routes or route + "/" not in routes]
    assert not missing, f"routes without their trailing-slash twin: {missing}"
    assert "api/schema" in ROUTES and "api/docs" in ROUTES and "api/v1/events" in ROUTES


@pytest.mark.parametrize("route", ROUTES)
def test_get_answers_the_same_with_and_without_the_slash(api, catalog, route):
    path = concrete(route)
    bare, slashed = api.get(path), api.get(path + "/")
    assert (bare.status_code, slashed.status_code) != (301, 301)
    assert bare.status_code == slashed.status_code, path
    assert bare["Content-Type"] == slashed["Content-Type"]
    if bare["Content-Type"] == "application/json" and route != "api/v1/billing-runs":
        assert bare.json() == slashed.json()


@pytest.mark.parametrize("method", [m for m in METHODS if m != "get"])
@pytest.mark.parametrize("route", ROUTES)
def test_writes_answer_the_same_with_and_without_the_slash(api, catalog, route, method):
    # A body no route accepts: each answers its refusal (400, 404, 405...), never a redirect
    # that would drop the body, and the same for both forms.
    path = concrete(route)
    send = getattr(api, method)
    bare = send(path, {"unknown_field": 1}, format="json")
    slashed = send(path + "/", {"unknown_field": 1}, format="json")
    assert bare.status_code not in (301, 302, 307, 308)
    assert bare.status_code == slashed.status_code, path


@pytest.fixture(scope="module")
def documented() -> dict[tuple[str, str], set[str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), re.sub(r"\{\w+\}", "x", path)): set(op["responses"])
            for path, methods in schema["paths"].items() for method, op in methods.items()}


def implemented() -> list[tuple[str, str]]:
    """(route, method) of every handler an API view defines."""
    pairs = []
    for route in ROUTES:
        if route.startswith("api/v1/"):
            view = resolve(concrete(route)).func.view_class
            pairs += [(route, method) for method in METHODS if hasattr(view, method)]
    return pairs


@pytest.mark.parametrize(("route", "method"), implemented())
def test_every_answer_is_a_status_the_schema_lists(api, ingest_api, anon_api, catalog,
                                                   documented, route, method):
    # Probes each operation with a good key, the wrong scope and no key, and a body it
    # refuses: the status it answers is one its documentation lists.
    key = (method.upper(), "/" + re.sub(r"<(?:\w+:)?\w+>", "x", route))
    assert key in documented
    for client in (api, ingest_api, anon_api):
        response = getattr(client, method)(concrete(route), {"unknown_field": 1}, format="json")
        assert str(response.status_code) in documented[key], (key, response.status_code,
                                                              response.content[:200])
