"""POST /api/v1/events with hostile input: every bad event is rejected by index naming its
field, before any query sees it, and never costs the batch its good events.

The PostgreSQL tests prove the COPY itself gets the hostile batch (minus the rejected
events) and that a write failing for a reason validation did not foresee still keeps the
good events.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import usage.ingest as ingest_module
import usage.ingest_write as writer
from tests.factories import CustomerFactory
from usage.ingest import ingest_events
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


def event(tid: str = "tx-1", **overrides) -> dict:
    data = {"transaction_id": tid, "customer": "acme", "event_type": "task.completed",
            "timestamp": "2026-11-15T11:00:00Z", "properties": {}}
    data.update(overrides)
    return data


def post(client, payload, path: str = URL):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(path, data=body, content_type="application/json")


def batch(client, *events):
    response = post(client, {"events": list(events)})
    assert response.status_code == 200, response.content
    return response.json()


def rejected_fields(body) -> dict[int, set[str]]:
    return {r["index"]: set(r["errors"]) for r in body["rejected"]}


def stored_ids() -> set[str]:
    return set(Event.objects.values_list("transaction_id", flat=True))


# ------------------------------------------------------------------ text PostgreSQL refuses

@pytest.mark.parametrize("field", ["customer", "event_type"])
@pytest.mark.parametrize("bad", ["ac\x00me", "\x00", "\ud800", "x\udfff"])
def test_nul_or_lone_surrogate_in_customer_or_event_type_rejects_only_that_event(
        ingest_api, acme, field, bad):
    # Before: the customer / metric lookups sent the NUL to PostgreSQL: a 500, batch lost.
    body = batch(ingest_api, event("good-1"), event("bad", **{field: bad}), event("good-2"))

    assert (body["accepted"], rejected_fields(body)) == (2, {1: {field}})
    [message] = body["rejected"][0]["errors"][field]
    assert "NUL" in message or "valid text" in message
    assert stored_ids() == {"good-1", "good-2"}


def test_customer_longer_than_its_column_is_rejected_without_a_lookup(ingest_api, acme):
    body = batch(ingest_api, event("long", customer="a" * 10_000), event("good"))

    assert body["rejected"] == [
        {"index": 0, "errors": {"customer": ["At most 128 characters (got 10000)."]}}]
    assert stored_ids() == {"good"}


@pytest.mark.parametrize("props", [
    {"a\x00": 1},
    {"nested": {"deeper": [{"k": "v\x00"}]}},
    {"nested": [{"\ud83d": 1}]},
    {"list": ["ok", ["\udc00"]]},
])
def test_nul_or_surrogate_anywhere_in_properties_rejects_only_that_event(ingest_api, acme,
                                                                          props):
    body = batch(ingest_api, event("bad", properties=props), event("good"))

    assert rejected_fields(body) == {0: {"properties"}}
    assert stored_ids() == {"good"}


def test_valid_surrogate_pairs_and_escaped_backslash_u_text_are_stored(ingest_api, acme):
    props = {"emoji": "\U0001f600", "literal": "\\u0000 and \\ud800 as plain text"}
    body = batch(ingest_api, event("ok", properties=props))

    assert body["accepted"] == 1
    assert Event.objects.get().properties == props


def test_integer_too_long_to_parse_rejects_only_its_event(ingest_api, acme):
    # Python refuses ints over 4,300 digits; the body is valid JSON and the other events good.
    huge = "9" * 5000
    body = (f'{{"events": [{json.dumps(event("good"))}, '
            f'{{"transaction_id": "huge", "customer": "acme", "event_type": "task.completed", '
            f'"timestamp": "2026-11-15T11:00:00Z", "properties": {{"n": {huge}}}}}]}}')

    response = post(ingest_api, body)

    assert response.status_code == 200
    assert rejected_fields(response.json()) == {1: {"properties"}}
    assert stored_ids() == {"good"}


# ------------------------------------------------------------------ timestamps

@pytest.mark.parametrize(("stamp", "utc"), [
    ("2026-11-15T16:30:15.123456+05:30:15.123456", dt.datetime(2026, 11, 15, 11, 0)),
    ("2026-11-14T15:00:00-20:00", dt.datetime(2026, 11, 15, 11, 0)),
    ("2026-11-16T10:59:00+23:59", dt.datetime(2026, 11, 15, 11, 0)),
    ("2026-11-15T11:00:00+00:00", dt.datetime(2026, 11, 15, 11, 0)),
])
def test_any_offset_python_reads_is_stored_as_the_right_utc_instant(ingest_api, acme, stamp,
                                                                    utc):
    # Before: the offset went to COPY verbatim, which PostgreSQL refuses: 500, batch lost.
    body = batch(ingest_api, event("odd", timestamp=stamp), event("good"))

    assert body["accepted"] == 2
    stored = Event.objects.get(transaction_id="odd").timestamp
    assert stored == utc.replace(tzinfo=dt.UTC)
    assert stored.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("stamp", [
    "0613-04-20T04:07:40Z",
    "9628-10-26T00:00:00Z",
    "0001-01-01T00:00:00+05:00",  # converting to UTC would leave the calendar
    "9999-12-31T23:59:59-23:59",
    "1969-12-31T23:59:59Z",
    "2201-01-01T00:00:00Z",
])
def test_timestamp_outside_the_years_1970_to_2200_is_rejected_naming_timestamp(
        ingest_api, acme, settings, stamp):
    settings.USAGE_BACKFILL_DAYS = 365 * 300  # the window alone would let them through
    settings.USAGE_FUTURE_TOLERANCE_SECONDS = 10**10
    body = batch(ingest_api, event("far", timestamp=stamp), event("good"))

    assert rejected_fields(body) == {0: {"timestamp"}}
    [message] = body["rejected"][0]["errors"]["timestamp"]
    assert "1970" in message and "2200" in message
    assert stored_ids() == {"good"}


def test_timestamp_with_a_nul_is_rejected_naming_timestamp(ingest_api, acme):
    body = batch(ingest_api, event("nul", timestamp="2026-11-15T11:00:00Z\x00"), event("ok"))

    assert rejected_fields(body) == {0: {"timestamp"}}


def test_a_batch_of_every_hostile_case_keeps_exactly_its_good_events(ingest_api, acme):
    hostile = [
        event("c", customer="a\x00"), event("e", event_type="t\x00"),
        event("s", customer="\ud800"), event("t\x00"), event("p", properties={"\x00": 0}),
        event("y", timestamp="0613-04-20T04:07:40Z"), [1], "x", None,
    ]
    good = [event("g1", timestamp="2026-11-15T16:30:15+05:30:15"),
            event("g2", timestamp="2026-11-14T15:00:00-20:00"), event("g3")]

    body = batch(ingest_api, good[0], *hostile, good[1], good[2])

    assert body["accepted"] == 3
    assert sorted(rejected_fields(body)) == list(range(1, len(hostile) + 1))
    assert stored_ids() == {"g1", "g2", "g3"}


# ------------------------------------------------------------------ single events and routes

def test_rejected_single_event_is_a_400_with_the_batch_shape(ingest_api, acme):
    response = post(ingest_api, event(customer="ac\x00me"))

    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0 and body["duplicates"] == 0
    assert body["rejected"] == [{"index": 0, "errors": {
        "customer": ["Must be valid text without NUL characters."]}}]
    assert body["errors"] == body["rejected"][0]["errors"]
    assert body["detail"].startswith("The event was rejected")
    assert not Event.objects.exists()


def test_batch_with_only_rejected_events_still_answers_200(ingest_api, acme):
    body = batch(ingest_api, event(customer="nobody"))

    assert body["accepted"] == 0 and rejected_fields(body) == {0: {"customer"}}


def test_single_event_that_is_a_duplicate_is_a_200(ingest_api, acme):
    assert post(ingest_api, event()).status_code == 200
    response = post(ingest_api, event())

    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 1, "rejected": []}


def test_trailing_slash_twin_ingests_the_same_way(ingest_api, acme):
    response = post(ingest_api, event(), path=f"{URL}/")

    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


def test_the_trailing_slash_twin_is_not_a_second_schema_operation(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    assert "/api/v1/events" in paths and "/api/v1/events/" not in paths


# ------------------------------------------------------------------ PostgreSQL: the COPY

@pytest.mark.postgres
def test_copy_gets_the_hostile_batch_minus_its_rejected_events(ingest_api, acme, monkeypatch):
    payloads = []
    copy_direct = writer._copy_direct
    monkeypatch.setattr(writer, "_copy_direct",
                        lambda payload: payloads.append(payload) or copy_direct(payload))

    body = batch(ingest_api,
                 event("offset", timestamp="2026-11-15T16:30:15.370368+05:30:15.123456"),
                 event("west", timestamp="2026-11-14T15:00:00-20:00"),
                 event("nul-customer", customer="a\x00"), event("nul-type", event_type="\x00"),
                 event("surrogate", properties={"k": "\ud800"}),
                 event("tricky", properties={"note": "tab\t\\N\n", "emoji": "\U0001f600"}))

    assert (body["accepted"], sorted(rejected_fields(body))) == (3, [2, 3, 4])
    [payload] = payloads  # one COPY for the whole batch, no fallback
    stamps = sorted(line.split("\t")[3] for line in payload.splitlines())
    assert stamps == ["2026-11-15T11:00:00+00:00", "2026-11-15T11:00:00+00:00",
                      "2026-11-15T11:00:00.246912+00:00"]
    assert stored_ids() == {"offset", "west", "tricky"}


@pytest.mark.postgres
def test_a_batch_write_that_fails_anyway_keeps_the_good_events_and_logs(
        ingest_api, acme, monkeypatch, caplog):
    # Simulate a validation gap: text PostgreSQL refuses reaches the COPY.
    monkeypatch.setattr(ingest_module, "_text_error", lambda value, max_length: None)

    with caplog.at_level(logging.ERROR, logger="usage.ingest_write"):
        body = batch(ingest_api, event("good-1"), event("bad\x00"), event("good-2"))

    assert body["accepted"] == 2
    assert body["rejected"] == [{"index": 1, "errors": {"non_field_errors": [
        "This event could not be stored; it was logged for the operators."]}}]
    assert stored_ids() == {"good-1", "good-2"}
    assert any("one at a time" in r.getMessage() for r in caplog.records)


@pytest.mark.postgres
def test_a_failed_write_on_the_staging_path_keeps_the_good_events(acme, monkeypatch):
    ingest_events(events=[event("stored")], now=NOW)
    monkeypatch.setattr(ingest_module, "_text_error", lambda value, max_length: None)

    result = ingest_events(events=[event("stored"), event("bad\x00"), event("new")], now=NOW)

    assert (result.accepted, result.duplicates) == (1, 1)
    assert [r["index"] for r in result.rejected] == [1]
    assert stored_ids() == {"stored", "new"}


@pytest.mark.postgres
def test_deeply_nested_properties_are_stored_or_rejected_never_a_500(ingest_api, acme):
    deep: object = "leaf"
    for _ in range(500):
        deep = {"k": deep}
    body = batch(ingest_api, event("deep", properties={"d": deep}), event("good"))

    assert "good" in stored_ids()
    assert body["accepted"] + len(body["rejected"]) == 2


# ------------------------------------------------------------------ any input at all

_any_text = st.text(st.characters(blacklist_categories=()), max_size=8)  # surrogates too
_offsets = st.timedeltas(min_value=dt.timedelta(hours=-23, minutes=-59),
                         max_value=dt.timedelta(hours=23, minutes=59))
_stamps = st.one_of(
    _any_text,
    st.builds(lambda moment, offset: moment.replace(tzinfo=dt.timezone(offset)).isoformat(),
              st.datetimes(dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)), _offsets),
    st.builds(lambda offset: (NOW - dt.timedelta(hours=1)).astimezone(
        dt.timezone(offset)).isoformat(), _offsets),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_any_text, inner, max_size=3),
    max_leaves=10,
)
_FIELD_VALUES = {
    "transaction_id": _any_text | _json,
    "customer": _any_text | _json,
    "event_type": st.sampled_from(["task.completed", "ai.call"]) | _any_text,
    "timestamp": _stamps | _json,
    "properties": st.dictionaries(_any_text, _json, max_size=4) | _json,
}
# Mostly one hostile field in an otherwise valid event (so the hostile value gets as far
# as it can), sometimes several.
_hostile = st.one_of(
    st.sampled_from(sorted(_FIELD_VALUES)).flatmap(
        lambda name: st.builds(lambda tid, value: event(tid, **{name: value}),
                               _any_text, _FIELD_VALUES[name])),
    st.builds(event, _any_text, **_FIELD_VALUES),
)


@hypothesis_settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile=st.lists(_hostile, max_size=6))
def test_no_input_makes_the_write_fail_and_good_events_are_always_kept(acme, hostile):
    Event.objects.all().delete()
    good = [event(f"good-{n}") for n in range(2)]

    result = ingest_events(events=[good[0], *hostile, good[1]], now=NOW)

    assert {"good-0", "good-1"} <= stored_ids()
    assert result.accepted + result.duplicates + len(result.rejected) == len(hostile) + 2
    for row in Event.objects.all():
        assert row.timestamp.utcoffset() == dt.timedelta(0)
