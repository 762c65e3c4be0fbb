"""Every error under /api/ is JSON: unknown routes, unexpected failures, refused requests."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client

import common.api.errors
from billing_site import urls
from common.api.errors import exception_handler

pytestmark = pytest.mark.django_db

METHODS = ["get", "post", "put", "patch", "delete", "options"]
UNKNOWN_API_PATHS = ["/api/v1/nope", "/api/v1/nope/", "/api/nope", "/api/v1/customers/acme/nope",
                     "/api/v2/customers"]


@pytest.fixture(params=[False, True], ids=["debug off", "debug on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.fixture
def client_500() -> Client:
    # A real client sees the handler's answer; the test client would re-raise instead.
    return Client(raise_request_exception=False)


def boom(*args, **kwargs):
    raise RuntimeError("the database caught fire")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
def test_unknown_api_route_is_json_404_for_every_method(debug, api, method, path):
    response = getattr(api, method)(path, {"a": 1}, format="json")
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": f"No API route {path}."}


def test_unknown_api_route_is_not_redirected_to_add_a_slash(debug, anon_api):
    # A redirect would drop a POST body; the answer is the 404 itself.
    assert anon_api.post("/api/v1/nope", {"a": 1}, format="json").status_code == 404


def test_head_of_unknown_api_route_is_404_json(debug, anon_api):
    response = anon_api.head("/api/v1/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_unknown_page_outside_the_api_stays_html(client):
    response = client.get("/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_unexpected_failure_in_an_api_view_is_json_500_and_logged(debug, api, monkeypatch, caplog):
    monkeypatch.setattr("accounts.api.views.customer_list", boom)
    with caplog.at_level(logging.ERROR, logger="common.api.errors"):
        response = api.get("/api/v1/customers")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith("Internal error (reference ")
    assert "fire" not in detail  # internals stay in the log
    reference = detail.split("reference ")[1].split(")")[0]
    [record] = [r for r in caplog.records if r.name == "common.api.errors"]
    assert reference in record.getMessage()
    assert "/api/v1/customers" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_failure_outside_a_drf_view_under_api_is_json_500(client_500, monkeypatch):
    monkeypatch.setattr(common.api.errors, "not_found", boom)  # the catch-all route calls it
    response = client_500.get("/api/v1/nope")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Internal error")


def test_failure_outside_the_api_stays_an_html_page(client_500, monkeypatch):
    monkeypatch.setattr(common.api.errors, "page_not_found", boom)
    response = client_500.get("/nope/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_disallowed_host_under_api_is_json_400(anon_api):
    response = anon_api.get("/api/v1/customers", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request."}


def test_body_too_large_for_django_is_413_naming_the_body():
    response = exception_handler(RequestDataTooBig("too big"), {})
    assert response.status_code == 413
    assert response.data["errors"] == {"body": ["The request body is too large."]}


def test_django_error_handlers_are_the_json_aware_ones():
    assert urls.handler400 == "common.api.errors.bad_request_error"
    assert urls.handler403 == "common.api.errors.permission_denied_error"
    assert urls.handler404 == "common.api.errors.not_found"
    assert urls.handler500 == "common.api.errors.server_error"


def test_a_body_that_is_not_json_is_415_naming_the_media_type(api):
    response = api.post("/api/v1/customers", "external_id=acme&name=Acme",
                        content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.json()["detail"]


def test_nested_errors_are_flattened_to_one_level_of_field_paths():
    nested = {"customers": {"0": ["This field may not be null."]},
              "charges": [{}, {"tiers": [{"up_to": ["Too big."]}]}],
              "periods": ["Too many."]}
    assert common.api.errors.flatten_errors(nested) == {
        "customers[0]": ["This field may not be null."],
        "charges[1].tiers[0].up_to": ["Too big."],
        "periods": ["Too many."]}
    assert common.api.errors.flatten_errors(["Bad."]) == {"non_field_errors": ["Bad."]}


def test_error_on_a_list_item_names_the_item_in_the_documented_shape(api):
    # Found by schemathesis: DRF's own shape for a list field is {"customers": {"0": [...]}},
    # which the schema (field -> list of messages) does not allow.
    response = api.post("/api/v1/backtests", {"customers": [None, None], "plan": "a",
                                              "plan_version": 1, "periods": 1}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["customers[0]"] == ["This field may not be null."]
    assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in errors.values())
