"""POST /api/v1/events: auth, body limits, answer shape."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from tests.factories import CustomerFactory
from usage.models import Event

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
URL = "/api/v1/events"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme")


def event(n: int = 1, **overrides) -> dict:
    data = {"transaction_id": f"tx-{n}", "customer": "acme", "event_type": "task.completed",
            "timestamp": "2026-11-15T11:00:00Z", "properties": {"n": n}}
    data.update(overrides)
    return data


def post(client, payload, **extra):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json", **extra)


def test_single_event_answers_the_batch_shape(ingest_api, acme):
    response = post(ingest_api, event())
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert Event.objects.get().received_at == NOW


def test_rejected_single_event_is_a_400_naming_the_field_in_the_batch_shape(ingest_api, acme):
    response = post(ingest_api, event(customer="nobody"))
    assert response.status_code == 400
    errors = {"customer": ["No customer has external_id 'nobody'."]}
    assert response.json() == {
        "detail": "The event was rejected: customer: No customer has external_id 'nobody'.",
        "errors": errors, "accepted": 0, "duplicates": 0,
        "rejected": [{"index": 0, "errors": errors}]}


def test_batch_reports_accepted_duplicates_and_rejected_by_index(ingest_api, acme):
    post(ingest_api, event(1))
    response = post(ingest_api, {"events": [event(1), event(2), event(2), event(3, timestamp="x"),
                                            event(4)]})
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 2)
    assert [r["index"] for r in body["rejected"]] == [3]
    assert set(body["rejected"][0]["errors"]) == {"timestamp"}
    assert Event.objects.count() == 3


def test_empty_batch_is_accepted_with_zero_counts(ingest_api):
    response = post(ingest_api, {"events": []})
    assert response.json() == {"accepted": 0, "duplicates": 0, "rejected": []}


def test_admin_scope_key_may_ingest(api, acme):
    assert post(api, event()).json()["accepted"] == 1


def test_no_key_is_401(anon_api, acme):
    response = post(anon_api, event())
    assert response.status_code == 401
    assert not Event.objects.exists()


def test_unknown_or_revoked_key_or_wrong_scheme_is_401(ingest_key, acme, client):
    assert post(client, event(), HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    assert post(client, event(), HTTP_AUTHORIZATION=f"Token {ingest_key}").status_code == 401
    api_key_revoke(key=ApiKey.objects.get(scope=ApiKey.Scope.INGEST), now=NOW)
    assert post(client, event(), HTTP_AUTHORIZATION=f"Bearer {ingest_key}").status_code == 401
    assert not Event.objects.exists()


def test_ingest_key_cannot_use_other_routes(ingest_api):
    # The ingest scope is for POST /events only; GET on it is not a route at all.
    assert ingest_api.get(URL).status_code == 405


def test_more_than_1000_events_is_413_and_nothing_is_stored(ingest_api, acme):
    response = post(ingest_api, {"events": [event(n) for n in range(1001)]})
    assert response.status_code == 413
    assert response.json()["errors"] == {"events": [
        "A request carries at most 1,000 events; this one has 1,001. "
        "Send them in smaller batches."]}
    assert not Event.objects.exists()


def test_exactly_1000_events_are_accepted(ingest_api, acme):
    response = post(ingest_api, {"events": [event(n) for n in range(1000)]})
    assert response.json()["accepted"] == 1000


def _oversized_body() -> bytes:
    body = json.dumps({"events": [event(1, properties={"pad": "x" * 1_000_000})]}).encode()
    assert len(body) > 1_000_000
    return body


def test_body_over_1_mb_is_413_before_it_is_read(ingest_api, acme):
    response = post(ingest_api, _oversized_body())
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The body is larger than 1,000,000 bytes; send smaller batches.",
        "errors": {"body": ["The body is larger than 1,000,000 bytes; send smaller batches."]}}
    assert not Event.objects.exists()


@pytest.mark.parametrize("limit", [500_000, 10_000_000])
def test_django_upload_limit_never_turns_a_large_body_into_a_400(ingest_api, acme, settings,
                                                                 limit):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = limit
    assert post(ingest_api, _oversized_body()).status_code == 413
    medium = json.dumps(event(1, properties={"pad": "x" * 600_000}))
    assert post(ingest_api, medium).status_code == (413 if limit < 600_000 else 200)


@pytest.mark.parametrize("body", [b"not json", b'{"transaction_id": ', b"\xff\xfe\x00",
                                  b'{"events": [{"n": NaN}]}', b""])
def test_body_that_is_not_json_is_400(ingest_api, body):
    response = post(ingest_api, body)
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid input."
    [message] = response.json()["errors"]["body"]
    assert message.startswith("The body is not valid JSON")


@pytest.mark.parametrize(("payload", "field"), [([event()], "body"), ('"text"', "body"),
                                                ({"events": {"a": 1}}, "events")])
def test_json_of_the_wrong_shape_is_400(ingest_api, acme, payload, field):
    response = post(ingest_api, payload)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {field}


def test_schema_documents_the_events_route(api):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    operation = response.json()["paths"]["/api/v1/events"]["post"]
    assert operation["operationId"] == "events_ingest"
    assert "200" in operation["responses"]
