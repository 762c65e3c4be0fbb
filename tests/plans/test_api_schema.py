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


# --- what the schema teaches: summaries, examples, the errors each operation gives --------

SPEC_EVENT_PROPERTIES = {"model": "gpt-4.1-mini", "input_tokens": 1200, "output_tokens": 300,
                         "total_tokens": 1500, "latency_tier": "realtime",
                         "seat": "alice@acme.test", "initiated_by": "agent"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_has_a_summary_and_a_description(schema):
    bare = [name for name, op in operations(schema)
            if not op.get("summary") or len(op.get("description", "")) < 20]
    assert not bare


def view_docstrings() -> set[str]:
    # Docstrings of our API views, their bases and their handlers: internal notes that
    # drf-spectacular would show as descriptions if a view had no explicit one.
    import inspect

    from django.urls import URLPattern, URLResolver, get_resolver

    docs: set[str] = set()

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                for cls in pattern.callback.cls.__mro__:
                    if cls.__module__.split(".")[0] not in ("accounts", "plans", "usage",
                                                            "invoices", "billing_site"):
                        continue
                    for member in [cls, *vars(cls).values()]:
                        if callable(member) and getattr(member, "__doc__", None):
                            docs.add(inspect.cleandoc(member.__doc__).split("\n")[0])

    walk(get_resolver().url_patterns)
    return docs


def test_no_internal_docstring_reaches_the_schema(schema):
    import json

    text = json.dumps(schema)
    assert "Serializers that say what is current or pending" not in text
    leaked = [doc for doc in view_docstrings() if json.dumps(doc)[1:-1] in text]
    assert not leaked


def test_every_error_response_has_the_error_body(schema):
    # The Error component, or (a rejected single event) a shape that extends it.
    components = schema["components"]["schemas"]
    for name, op in operations(schema):
        for code, response in op["responses"].items():
            if int(code) >= 400:
                body = response["content"]["application/json"]
                shape = components[body["schema"]["$ref"].split("/")[-1]]
                assert "detail" in shape["required"], (name, code)
                assert {"detail", "errors"} <= set(shape["properties"]), (name, code)
                assert body.get("examples"), (name, code)
    error = components["Error"]
    assert error["required"] == ["detail"] and set(error["properties"]) == {"detail", "errors"}


def codes(schema: dict, name: str) -> set[int]:
    method, path = name.split(" ", 1)
    return {int(c) for c in schema["paths"][path][method.lower()]["responses"]}


@pytest.mark.parametrize(("name", "expected", "absent"), [
    ("POST /api/v1/events", {200, 400, 401, 413}, {403, 404, 415}),
    ("GET /api/v1/customers", {200, 400, 401, 403}, {404, 415}),
    ("POST /api/v1/customers", {201, 400, 401, 403, 415}, {404}),
    ("GET /api/v1/customers/{external_id}", {200, 401, 403, 404}, {400, 409}),
    ("PATCH /api/v1/customers/{external_id}", {200, 400, 401, 403, 404}, {409}),
    ("PATCH /api/v1/metrics/{code}", {200, 400, 401, 403, 404, 409}, set()),
    ("PATCH /api/v1/plans/{code}/versions/{version}", {400, 404, 409}, set()),
    ("POST /api/v1/plans/{code}/versions/{version}/publish", {200, 400, 404, 409}, {415}),
    ("POST /api/v1/invoices/{invoice_id}/finalize", {200, 404, 409}, set()),
    ("POST /api/v1/invoices/{invoice_id}/void", {200, 404, 409}, set()),
    ("GET /api/v1/customers/{external_id}/usage", {200, 400, 401, 403, 404}, set()),
    ("POST /api/v1/billing-runs", {202, 400, 401, 403}, {201, 404}),
    ("GET /api/v1/billing-runs/{run_id}", {200, 401, 403, 404}, {400}),
    ("GET /api/v1/invoices/{invoice_id}/pdf", {200, 401, 403, 404}, {400, 409, 415}),
])
def test_operations_list_the_responses_they_really_give(schema, name, expected, absent):
    listed = codes(schema, name)
    assert expected <= listed, (name, listed)
    assert not absent & listed, (name, listed)


def test_throttled_operations_list_429_with_retry_after(schema, settings):
    from rest_framework.settings import api_settings

    if not api_settings.DEFAULT_THROTTLE_CLASSES:
        pytest.skip("no throttle configured")
    for name, op in operations(schema):
        assert "429" in op["responses"], name
        assert "Retry-After" in op["responses"]["429"]["headers"], name


def test_event_body_is_documented_with_the_spec_example(schema):
    body = schema["paths"]["/api/v1/events"]["post"]["requestBody"]
    assert body["required"] is True
    content = body["content"]["application/json"]
    one_of = schema["components"]["schemas"][content["schema"]["$ref"].split("/")[-1]]["oneOf"]
    assert {ref["$ref"].split("/")[-1] for ref in one_of} == {"EventRequest", "EventBatchRequest"}
    single = [e["value"] for e in content["examples"].values() if "events" not in e["value"]]
    batch = [e["value"] for e in content["examples"].values() if "events" in e["value"]]
    assert single and batch
    event = single[0]
    assert (event["customer"], event["event_type"], event["timestamp"]) == \
        ("acme", "ai.call", "2026-10-05T12:00:00Z")
    assert event["properties"] == SPEC_EVENT_PROPERTIES
    assert len(batch[0]["events"]) >= 2


def test_every_operation_has_examples_of_its_body_and_its_answer(schema):
    missing = []
    for name, op in operations(schema):
        if "requestBody" in op and not op["requestBody"]["content"]["application/json"].get(
                "examples"):
            missing.append(f"{name} request")
        success = [r for c, r in op["responses"].items() if c.startswith("2")]
        if not any(r.get("content", {}).get("application/json", {}).get("examples")
                   or _is_a_described_file(r) for r in success):
            missing.append(f"{name} response")
    assert not missing


def _is_a_described_file(response: dict) -> bool:
    """A file answer (the PDF invoice) has no JSON example: its media type and a
    description of what the file holds say it."""
    content = response.get("content", {})
    return bool(content) and "application/json" not in content and all(
        media["schema"] == {"type": "string", "format": "binary"} for media in content.values()
    ) and len(response.get("description", "")) > 10


def as_json_schema(node):
    # OpenAPI 3.0 says ``nullable: true``; JSON Schema says ``type: [..., "null"]``. Its
    # ``exclusiveMaximum: true`` qualifies ``maximum``; JSON Schema's is the bound itself.
    if isinstance(node, dict):
        node = {k: as_json_schema(v) for k, v in node.items()}
        for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
            if node.get(exclusive) is True:
                node[exclusive] = node.pop(bound)
            elif node.get(exclusive) is False:
                del node[exclusive]
        if node.pop("nullable", False):
            if "type" in node:
                node["type"] = [node["type"], "null"]
            elif "$ref" in node or "allOf" in node or "oneOf" in node:
                node = {"anyOf": [{k: v for k, v in node.items()}, {"type": "null"}]}
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return node
    if isinstance(node, list):
        return [as_json_schema(v) for v in node]
    return node


def test_every_example_matches_its_schema(schema):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    document = as_json_schema({"components": schema["components"]})
    registry = Registry().with_resource("urn:api", Resource.from_contents(
        document, default_specification=__import__("referencing.jsonschema").jsonschema.DRAFT202012))
    checked = 0
    for name, op in operations(schema):
        bodies = [("request", op["requestBody"]["content"]["application/json"])] \
            if "requestBody" in op else []
        bodies += [(code, r["content"]["application/json"]) for code, r in op["responses"].items()
                   if "application/json" in r.get("content", {})]
        for where, media in bodies:
            shape = as_json_schema(media["schema"])
            shape = {**shape, "$ref": "urn:api" + shape["$ref"]} if "$ref" in shape else shape
            shape = __import__("json").loads(__import__("json").dumps(shape).replace(
                '"#/components', '"urn:api#/components'))
            validator = Draft202012Validator(shape, registry=registry)
            for example_name, example in media.get("examples", {}).items():
                errors = [e.message for e in validator.iter_errors(example["value"])]
                assert not errors, (name, where, example_name, errors)
                checked += 1
    assert checked > 60


# --- request bodies say what the serializers check -------------------------------------
# So a client that follows the schema (schemathesis in CI above all) is not refused.

STRICT_BODIES = {"CustomerCreateRequest", "PatchedCustomerUpdateRequest", "SeatWriteRequest",
                 "PatchedSeatWriteRequest", "MetricCreateRequest", "PatchedMetricUpdateRequest",
                 "PlanCreateRequest", "PlanVersionWriteRequest", "PatchedPlanVersionWriteRequest",
                 "ContractCreateRequest", "PatchedContractUpdateRequest",
                 "ContractMigrationCreateRequest", "BillingRunRequestRequest"}


def test_bodies_that_refuse_unknown_keys_say_so_and_answers_stay_open(schema):
    components = schema["components"]["schemas"]
    closed = {name for name, shape in components.items()
              if shape.get("additionalProperties") is False}
    assert STRICT_BODIES <= closed
    # Only request bodies: an answer may gain fields without breaking a client.
    assert all(name.endswith("Request") for name in closed)


def decimal_branches(schema: dict, component: str, field: str) -> tuple[dict, dict]:
    text, number = schema["components"]["schemas"][component]["properties"][field]["oneOf"]
    return text, number


def test_decimal_inputs_state_the_digits_and_bounds_the_api_checks(schema):
    import re

    text, number = decimal_branches(schema, "ContractCreateRequest", "discount_percent")
    assert [bool(re.match(text["pattern"], v)) for v in ("12.5", "100", "1000", "-1", "1.23456")] \
        == [True, True, False, False, False]
    assert (number["minimum"], number["maximum"]) == (0, 100)
    assert "exclusiveMaximum" not in number
    text, number = decimal_branches(schema, "PlanVersionWriteRequest", "seat_price")
    assert re.match(text["pattern"], "40.00") and re.match(text["pattern"], "0.0000000001")
    assert not re.match(text["pattern"], "1" * 19)
    assert number == {"type": "number", "minimum": 0, "maximum": 10**18,
                      "exclusiveMaximum": True}


def decimal_fields():
    from decimal import Decimal

    from rest_framework import serializers

    from common.api.fields import MoneyField, QuantityField

    return [MoneyField(), QuantityField(), QuantityField(max_digits=7, decimal_places=4,
                                                         max_value=100),
            serializers.DecimalField(max_digits=6, decimal_places=2),
            serializers.DecimalField(max_digits=5, decimal_places=0, min_value=Decimal(1))]


@pytest.mark.parametrize("field", decimal_fields(), ids=lambda f: f"{type(f).__name__}"
                         f"({f.max_digits},{f.decimal_places},{f.min_value},{f.max_value})")
def test_every_decimal_the_schema_allows_is_accepted(field):
    from decimal import Decimal

    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    from common.api.schema import decimal_limits

    text, number = decimal_limits(field)
    low, high = number.get("minimum"), number.get("maximum")
    integers = st.integers(
        min_value=None if low is None else int(low) + bool(number.get("exclusiveMinimum")),
        max_value=None if high is None else int(high) - bool(number.get("exclusiveMaximum")))

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(st.from_regex(text["pattern"], fullmatch=True), integers))
    def accepted(value):
        # The text pattern cannot say max_value; the number bounds do.
        if field.max_value is not None and isinstance(value, str):
            assume(Decimal(value) <= field.max_value)
        if field.min_value is not None and isinstance(value, str):
            assume(Decimal(value) >= field.min_value)
        field.run_validation(value)

    accepted()
