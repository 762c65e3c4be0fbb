"""usage.ingest: validation rules, batches, duplicates and the stored row.

On PostgreSQL these run through the COPY + INSERT … ON CONFLICT path, on SQLite through
the bulk_create path; both must give the same answers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from plans.models import Metric
from tests.factories import CustomerFactory, MetricFactory, ModelPriceFactory
from usage.ingest import ingest_events
from usage.ingest_write import write_rows
from usage.models import Event

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme")


@pytest.fixture
def metrics():
    MetricFactory(code="tokens", name="Tokens", event_type="ai.call",
                  aggregation=Metric.Aggregation.SUM, field="total_tokens")
    MetricFactory(code="pages", name="Pages", event_type="doc.processed",
                  aggregation=Metric.Aggregation.MAX, field="pages")
    MetricFactory(code="tasks", name="Tasks", event_type="task.completed",
                  aggregation=Metric.Aggregation.COUNT)
    MetricFactory(code="users", name="Users", event_type="task.completed",
                  aggregation=Metric.Aggregation.UNIQUE_COUNT, field="user")


def event(**overrides) -> dict:
    data = {"transaction_id": "tx-1", "customer": "acme", "event_type": "task.completed",
            "timestamp": "2026-11-15T11:00:00Z", "properties": {}}
    data.update(overrides)
    return data


def ingest(*events):
    return ingest_events(events=list(events), now=NOW)


def errors_of(result, index=0):
    assert result.accepted == 0 or len(result.rejected) > 0
    return next(r["errors"] for r in result.rejected if r["index"] == index)


def test_valid_ai_call_is_stored_with_derived_columns(acme, metrics):
    ModelPriceFactory(provider="openai", model="gpt-4.1-mini", input_per_million="0.40",
                      output_per_million="1.60")
    props = {"model": "gpt-4.1-mini", "input_tokens": 1200, "output_tokens": 300,
             "total_tokens": 1500, "latency_tier": "realtime", "seat": " Alice@Acme.test ",
             "initiated_by": "agent"}
    result = ingest(event(event_type="ai.call", properties=props))

    assert result.as_dict() == {"accepted": 1, "duplicates": 0, "rejected": []}
    stored = Event.objects.get()
    assert stored.customer_id == acme.pk
    assert stored.transaction_id == "tx-1"
    assert stored.timestamp == dt.datetime(2026, 11, 15, 11, 0, tzinfo=dt.UTC)
    assert stored.properties == props
    assert stored.model == "gpt-4.1-mini"
    assert stored.seat == "alice@acme.test"  # normalised like Seat.email
    # 1200 × 0.40 / 1e6 + 300 × 1.60 / 1e6
    assert stored.provider_cost == Decimal("0.00096")
    assert stored.unpriced is False
    assert stored.received_at == NOW


def test_non_ai_event_has_no_cost_and_is_not_flagged(acme):
    ingest(event(properties={"model": "gpt-4.1-mini"}))
    stored = Event.objects.get()
    assert (stored.provider_cost, stored.unpriced, stored.model) == (0, False, "gpt-4.1-mini")


def test_missing_properties_or_null_properties_store_an_empty_object(acme):
    data = event()
    del data["properties"]
    result = ingest(data, event(transaction_id="tx-2", properties=None))
    assert result.accepted == 2
    assert [e.properties for e in Event.objects.all()] == [{}, {}]


@pytest.mark.parametrize("field", ["transaction_id", "customer", "event_type", "timestamp"])
@pytest.mark.parametrize("value", ["<missing>", "", None])
def test_missing_or_empty_required_field_is_rejected(acme, field, value):
    data = event()
    if value == "<missing>":
        del data[field]
    else:
        data[field] = value
    result = ingest(data)
    assert result.accepted == 0
    assert result.rejected == [{"index": 0, "errors": {field: ["This field is required."]}}]
    assert not Event.objects.exists()


@pytest.mark.parametrize("field", ["transaction_id", "event_type"])
def test_blank_or_non_string_identifiers_are_rejected(acme, field):
    result = ingest(event(**{field: "   "}), event(**{"transaction_id": "tx-2", field: 42}))
    assert errors_of(result, 0) == {field: ["Must not be blank."]}
    assert errors_of(result, 1) == {field: ["Must be a string."]}


def test_unknown_customer_is_rejected(acme):
    result = ingest(event(customer="globex"))
    assert errors_of(result) == {"customer": ["No customer has external_id 'globex'."]}


def test_archived_customer_is_rejected():
    CustomerFactory(external_id="acme", archived=True)
    result = ingest(event())
    assert errors_of(result) == {"customer": ["Customer 'acme' is archived and accepts no usage."]}
    assert not Event.objects.exists()


@pytest.mark.parametrize("stamp", ["yesterday", "2026-13-01T00:00:00Z", "15/11/2026 10:00",
                                   1763200000, ["2026-11-15"]])
def test_timestamp_that_is_not_iso_8601_is_rejected(acme, stamp):
    result = ingest(event(timestamp=stamp))
    [message] = errors_of(result)["timestamp"]
    assert message.startswith("Must be an ISO 8601 date-time")


def test_timestamp_formats_and_offsets_are_read_as_instants(acme):
    result = ingest(
        event(transaction_id="z", timestamp="2026-11-15T11:00:00.250Z"),
        event(transaction_id="offset", timestamp="2026-11-15T12:30:00+01:00"),
        event(transaction_id="naive", timestamp="2026-11-15T11:00:00"),  # no offset: UTC
    )
    assert result.accepted == 3
    stamps = dict(Event.objects.values_list("transaction_id", "timestamp"))
    assert stamps == {
        "z": dt.datetime(2026, 11, 15, 11, 0, 0, 250000, tzinfo=dt.UTC),
        "offset": dt.datetime(2026, 11, 15, 11, 30, tzinfo=dt.UTC),
        "naive": dt.datetime(2026, 11, 15, 11, 0, tzinfo=dt.UTC),
    }


def test_timestamp_more_than_the_tolerance_in_the_future_is_rejected(acme, settings):
    settings.USAGE_FUTURE_TOLERANCE_SECONDS = 300
    result = ingest(event(transaction_id="edge", timestamp="2026-11-15T12:05:00Z"),
                    event(transaction_id="late", timestamp="2026-11-15T12:05:00.001Z"))
    assert result.accepted == 1
    [message] = errors_of(result, 1)["timestamp"]
    assert message.startswith("More than 300 seconds in the future")


def test_timestamp_older_than_the_backfill_window_is_rejected(acme, settings):
    settings.USAGE_BACKFILL_DAYS = 35
    result = ingest(event(transaction_id="edge", timestamp="2026-10-11T12:00:00Z"),
                    event(transaction_id="old", timestamp="2026-10-11T11:59:59Z"))
    assert result.accepted == 1
    [message] = errors_of(result, 1)["timestamp"]
    assert message.startswith("Older than the 35-day backfill window")


@pytest.mark.parametrize("props", [["a"], "model=x", 3, True])
def test_properties_that_are_not_an_object_are_rejected(acme, props):
    result = ingest(event(properties=props))
    assert errors_of(result) == {"properties": ["Must be a JSON object."]}


@pytest.mark.parametrize(("event_type", "name"), [("ai.call", "total_tokens"),
                                                  ("doc.processed", "pages")])
@pytest.mark.parametrize("value", ["1500", None, True, {"n": 1}, [1]])
def test_aggregated_property_that_is_not_a_number_is_rejected(acme, metrics, event_type, name,
                                                              value):
    result = ingest(event(event_type=event_type, properties={name: value}))
    [message] = errors_of(result)[f"properties.{name}"]
    assert message.startswith("Must be a number")


@pytest.mark.parametrize(("event_type", "name"), [("ai.call", "total_tokens"),
                                                  ("doc.processed", "pages"),
                                                  ("ai.call", "input_tokens"),
                                                  ("ai.call", "output_tokens")])
def test_negative_aggregated_or_token_property_is_rejected(acme, metrics, event_type, name):
    result = ingest(event(event_type=event_type, properties={name: -1}))
    assert errors_of(result) == {f"properties.{name}": ["Must not be negative."]}


def test_numbers_and_absent_aggregated_properties_are_accepted(acme, metrics):
    result = ingest(
        event(transaction_id="a", event_type="doc.processed", properties={"pages": 0}),
        event(transaction_id="b", event_type="doc.processed", properties={"pages": 2.5}),
        event(transaction_id="c", event_type="doc.processed", properties={}),
        # count and unique_count metrics do not constrain their properties
        event(transaction_id="d", properties={"user": "bob", "pages": "many"}),
    )
    assert result.as_dict() == {"accepted": 4, "duplicates": 0, "rejected": []}


def test_quantities_beyond_1e15_are_rejected(acme, metrics):
    result = ingest(event(transaction_id="ok", event_type="ai.call",
                          properties={"total_tokens": 10**15}),
                    event(event_type="ai.call", properties={"input_tokens": 10**15 + 1}))
    assert result.accepted == 1
    assert errors_of(result, 1) == {"properties.input_tokens": ["Must be at most 1e+15."]}


def test_infinite_number_in_properties_is_rejected_not_a_500(acme):
    result = ingest(event(properties={"ratio": float("inf")}))
    assert set(errors_of(result)) == {"properties"}


def test_cost_beyond_the_column_range_is_rejected_not_a_500(acme):
    ModelPriceFactory(input_per_million="100000000000000000")
    result = ingest(event(event_type="ai.call",
                          properties={"model": "gpt-4.1-mini", "input_tokens": 10**6}))
    assert errors_of(result) == {"properties": ["The provider cost of these tokens is out of range."]}


def test_transaction_id_over_255_characters_is_rejected(acme):
    result = ingest(event(transaction_id="x" * 255), event(transaction_id="y" * 256))
    assert result.accepted == 1
    assert errors_of(result, 1) == {"transaction_id": ["At most 255 characters (got 256)."]}


def test_too_long_event_type_model_or_seat_is_rejected(acme):
    result = ingest(event(event_type="e" * 129),
                    event(transaction_id="m", properties={"model": "m" * 129}),
                    event(transaction_id="s", properties={"seat": "s" * 255}))
    assert result.accepted == 0
    assert set(errors_of(result, 0)) == {"event_type"}
    assert set(errors_of(result, 1)) == {"properties.model"}
    assert set(errors_of(result, 2)) == {"properties.seat"}


def test_text_postgres_cannot_store_is_rejected_not_a_500(acme):
    result = ingest(event(transaction_id="nul\x00"),
                    event(transaction_id="p", properties={"note": "a\x00b"}),
                    event(transaction_id="s", properties={"note": "\ud800"}),
                    event(transaction_id="ok", properties={"emoji": "\U0001f600", "hangul": "한"}))
    assert result.accepted == 1
    assert set(errors_of(result, 0)) == {"transaction_id"}
    assert set(errors_of(result, 1)) == {"properties"}
    assert set(errors_of(result, 2)) == {"properties"}
    assert Event.objects.get().properties == {"emoji": "\U0001f600", "hangul": "한"}


def test_an_entry_that_is_not_an_object_is_rejected(acme):
    result = ingest("tx-1", None, event())
    assert result.accepted == 1
    assert errors_of(result, 0) == {"non_field_errors": ["An event must be a JSON object."]}
    assert errors_of(result, 1) == {"non_field_errors": ["An event must be a JSON object."]}


def test_every_bad_field_of_an_event_is_reported_at_once(acme):
    result = ingest(event(transaction_id="", customer="nobody", timestamp="soon"))
    assert set(errors_of(result)) == {"transaction_id", "customer", "timestamp"}


def test_batch_keeps_good_events_when_others_are_rejected(acme, metrics):
    result = ingest(
        event(transaction_id="good-1"),
        event(transaction_id="bad-1", customer="nobody"),
        event(transaction_id="good-2", event_type="doc.processed", properties={"pages": 3}),
        event(transaction_id="bad-2", event_type="doc.processed", properties={"pages": -3}),
        event(transaction_id="good-3", timestamp="2026-11-01T00:00:00+00:00"),
    )
    assert result.accepted == 3
    assert result.duplicates == 0
    assert [r["index"] for r in result.rejected] == [1, 3]
    assert sorted(Event.objects.values_list("transaction_id", flat=True)) == [
        "good-1", "good-2", "good-3"]


def test_duplicate_inside_a_batch_counts_once_and_first_copy_wins(acme):
    result = ingest(event(properties={"n": 1}), event(properties={"n": 2}),
                    event(transaction_id="tx-2"))
    assert result.as_dict() == {"accepted": 2, "duplicates": 1, "rejected": []}
    assert Event.objects.get(transaction_id="tx-1").properties == {"n": 1}


def test_rejected_copy_does_not_hide_a_valid_copy_later_in_the_batch(acme):
    result = ingest(event(timestamp="nope"), event())
    assert (result.accepted, result.duplicates, len(result.rejected)) == (1, 0, 1)


def test_duplicate_across_requests_counts_once(acme):
    first = ingest(event(), event(transaction_id="tx-2"))
    second = ingest(event(properties={"changed": True}), event(transaction_id="tx-3"))
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (second.accepted, second.duplicates) == (1, 1)
    assert Event.objects.count() == 3
    assert Event.objects.get(transaction_id="tx-1").properties == {}


def test_same_transaction_id_for_two_customers_is_two_events(acme):
    CustomerFactory(external_id="globex")
    result = ingest(event(), event(customer="globex"))
    assert result.accepted == 2


def test_special_characters_round_trip_through_the_write_path(acme):
    tricky = "tab\tnew\nline\r\\back\\\\slash\\N \"quoted\" é"
    props = {"note": tricky, "path": "C:\\dir\\file", "nested": {"list": [1, "\\t", None]},
             "model": "m\\1", "seat": "o'brien@acme.test"}
    result = ingest(event(transaction_id=tricky, event_type=f"custom.{tricky}",
                          properties=props))
    assert result.accepted == 1
    stored = Event.objects.get()
    assert (stored.transaction_id, stored.event_type) == (tricky, f"custom.{tricky}")
    assert stored.properties == props
    assert (stored.model, stored.seat) == ("m\\1", "o'brien@acme.test")


def test_write_rows_counts_only_new_keys(acme):
    ts = dt.datetime(2026, 11, 15, 11, tzinfo=dt.UTC)
    row = (acme.pk, "k", "task.completed", ts, {}, "{}", "", "", None, False)
    assert write_rows(rows=[row], received_at=NOW) == 1
    assert write_rows(rows=[row, (acme.pk, "k2", *row[2:])], received_at=NOW) == 1


def test_postgres_uses_the_copy_path_and_sqlite_the_bulk_path(acme):
    with CaptureQueriesContext(connection) as queries:
        ingest(event())
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    if connection.vendor == "postgresql":
        assert "SELECT" in sql and "INSERT" not in sql  # the write bypasses Django's cursor
        assert Event.objects.count() == 1
    else:
        assert 'INSERT OR IGNORE INTO "usage_event"' in sql


@pytest.mark.postgres
def test_a_session_that_lost_its_staging_table_gets_it_back(acme):
    ingest(event(transaction_id="first"))
    ingest(event(transaction_id="first"))  # a stored key: the staging path creates its table
    with connection.cursor() as cursor:  # what a pooler's DISCARD ALL does to temp tables
        cursor.execute("DROP TABLE usage_event_staging")
    result = ingest(event(transaction_id="second"), event(transaction_id="first"))
    assert (result.accepted, result.duplicates) == (1, 1)


@pytest.mark.postgres
def test_new_keys_are_copied_directly_and_a_stored_key_reroutes_through_staging(acme,
                                                                               monkeypatch):
    import usage.ingest_write as writer

    staged = []
    through_staging = writer._copy_through_staging
    monkeypatch.setattr(writer, "_copy_through_staging",
                        lambda payload: staged.append(payload) or through_staging(payload))
    assert ingest(event(transaction_id="a"), event(transaction_id="b")).accepted == 2
    assert staged == []
    result = ingest(event(transaction_id="c"), event(transaction_id="b"),
                    event(transaction_id="d"))
    assert (result.accepted, result.duplicates) == (2, 1)
    assert len(set(staged)) == 1  # once (twice if it first recreated a rolled-back table)
    assert sorted(Event.objects.values_list("transaction_id", flat=True)) == ["a", "b", "c", "d"]


_junk = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=8,
)
_events = st.lists(
    st.one_of(
        st.builds(event, transaction_id=st.sampled_from(["a", "b", "c", "", "d" * 300]),
                  customer=st.sampled_from(["acme", "nobody", ""]),
                  event_type=st.sampled_from(["ai.call", "doc.processed", "task.completed"]),
                  timestamp=st.sampled_from(["2026-11-15T11:00:00Z", "2027-01-01T00:00:00Z",
                                             "bad", "2026-11-14T00:00:00+09:00"]),
                  properties=st.one_of(
                      _junk, st.fixed_dictionaries({}, optional={
                          "total_tokens": st.integers(-2, 5), "pages": _junk,
                          "model": _junk, "input_tokens": st.floats(0, 10)}))),
        _junk,
    ),
    max_size=12,
)


@hypothesis_settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events)
def test_every_event_is_accepted_duplicate_or_rejected_exactly_once(acme, metrics, events):
    before = Event.objects.count()
    result = ingest(*events)
    assert result.accepted + result.duplicates + len(result.rejected) == len(events)
    assert [r["index"] for r in result.rejected] == sorted({r["index"] for r in result.rejected})
    assert Event.objects.count() == before + result.accepted
