"""Usage-event ingestion: plain-Python validation, then one bulk write per batch.

This is the hot path of the product (every AI call of every customer lands here), so it
avoids per-event framework work: no DRF serializer per event, one query for the batch's
customers, one for the metrics that constrain its event types, one for provider prices
(only when the batch has ``ai.call`` events), and one write (usage/ingest_write.py):

* PostgreSQL: ``COPY`` straight into ``usage_event``; if a key is already stored, the
  batch goes again through a staging table and ``INSERT … ON CONFLICT DO NOTHING``, whose
  row count is the number accepted. A copy that lost the race to a concurrent request (same
  transaction_id) is not inserted, so two simultaneous copies count once (SPEC §5).
* SQLite (the embedded demo): existing keys are read and the rest ``bulk_create``-d inside
  one write transaction; SQLite serialises write transactions (``transaction_mode
  IMMEDIATE``), so the count is exact.

Validation reads run before the write transaction on purpose: the transaction then only
spans the write, and a rejected event never holds a lock.

Nothing a client sends reaches a query unchecked: a customer or event type that is not
text PostgreSQL can store (NUL, a lone surrogate, longer than its column) is rejected
before the lookups, timestamps are bounded to the years 1970–2200 and converted to UTC
(PostgreSQL does not read every offset Python does, e.g. ``+05:30:15.123456``), and
properties must be storable jsonb. Should a write fail anyway, the writer stores the
batch one event at a time (usage/ingest_write.py) so the good events are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from accounts.models import Customer
from common.bounds import EARLIEST_MOMENT, END_OF_RANGE, MAX_YEAR, MIN_YEAR, YEAR_RANGE_MESSAGE
from plans.models import Metric
from usage.ingest_write import Row, write_batch
from usage.models import Event
from usage.pricing import MAX_COST, PriceBook, cost_for, load_price_book

MAX_EVENTS_PER_REQUEST = 1000
MAX_BODY_BYTES = 1_000_000
AI_CALL = "ai.call"
TOKEN_FIELDS = ("input_tokens", "output_tokens")
NUMERIC_AGGREGATIONS = (str(Metric.Aggregation.SUM), str(Metric.Aggregation.MAX))

_max_length = {f.name: f.max_length for f in Event._meta.concrete_fields if f.max_length}
MAX_TRANSACTION_ID = _max_length["transaction_id"]
MAX_EVENT_TYPE = _max_length["event_type"]
MAX_MODEL = _max_length["model"]
MAX_SEAT = _max_length["seat"]
MAX_CUSTOMER = Customer._meta.get_field("external_id").max_length

# Aggregated properties and token counts above this are refused: rollups and provider
# cost are fixed-precision columns, and no real event carries a quadrillion units.
MAX_QUANTITY = 10**15
REQUIRED = "This field is required."
UNSTORABLE = "This event could not be stored; it was logged for the operators."

# allow_nan=False: "1e999" parses to inf, which jsonb cannot store.
_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
if json.encoder.c_make_encoder is not None:
    # One reusable C encoder without the circular-reference check (parsed JSON cannot be
    # circular): half the cost of json.dumps per event, which re-creates both every call.
    _c_encode = json.encoder.c_make_encoder(
        None, _encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",",
        False, False, False)

    def _json_encode(value: Any) -> str:
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover - Python builds without the C accelerator
    _json_encode = _encoder.encode


class BodyError(Exception):
    """The request as a whole is unusable (not JSON, wrong shape, too many events)."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _int_or_infinity(text: str) -> int | float:
    # Infinity is refused per event (by the jsonb check, or as a quantity over 1e15).
    return int(text) if len(text.lstrip("-")) <= sys.get_int_max_str_digits() else float("inf")


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
    # Valid JSON with an integer too long for Python to read: parse again (slower, only
    # here) so that only the event carrying it is rejected, not the whole batch.
    return json.loads(body, parse_constant=_reject_constant, parse_int=_int_or_infinity)


def parse_body(body: bytes) -> tuple[list[Any], bool]:
    """The events of a request body (one event object, or ``{"events": [...]}``) and
    whether it was a single event."""
    try:
        data = _loads(body)
    except (ValueError, RecursionError) as exc:
        raise BodyError(400, "body", f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise BodyError(400, "body", 'Send one event object or {"events": [...]}.')
    if "events" not in data:
        return [data], True
    events = data["events"]
    if not isinstance(events, list):
        raise BodyError(400, "events", "events must be a list of event objects.")
    if len(events) > MAX_EVENTS_PER_REQUEST:
        raise BodyError(413, "events", (
            f"A request carries at most {MAX_EVENTS_PER_REQUEST:,} events; this one has "
            f"{len(events):,}. Send them in smaller batches."))
    return events, False


# ---------------------------------------------------------------------------- validation

def _text_error(value: Any, max_length: int) -> str | None:
    if type(value) is str and 0 < len(value) <= max_length and not value.isspace() \
            and "\x00" not in value and (value.isascii() or _encodable(value)):
        return None
    if value is None or value == "":
        return REQUIRED
    if not isinstance(value, str):
        return "Must be a string."
    if value.isspace():
        return "Must not be blank."
    if len(value) > max_length:
        return f"At most {max_length} characters (got {len(value)})."
    return "Must be valid text without NUL characters."


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate from a "\udXXX" JSON escape
        return False
    return True


def _storable(value: Any) -> bool:
    """PostgreSQL's jsonb refuses NUL characters and unpaired surrogates anywhere."""
    if isinstance(value, str):
        return "\x00" not in value and _encodable(value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    return True


# The lookups below are raw SQL on purpose: building an ORM query costs ~0.5 ms of CPU,
# a third of what a single-event request costs in all.
def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _customers(refs: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """external_id → (id, archived) for the batch's customers, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT external_id, id, archived FROM {Customer._meta.db_table} "
                       f"WHERE external_id IN ({_in(refs)})", list(refs))
        return {ext: (pk, bool(archived)) for ext, pk, archived in cursor.fetchall()}


def _numeric_fields(event_types: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Properties that must be non-negative numbers, per event type: the fields that sum/max
    metrics aggregate, plus the token counts of ``ai.call`` (provider cost needs them)."""
    fields: dict[str, set[str]] = {event_type: set() for event_type in event_types}
    if AI_CALL in fields:
        fields[AI_CALL].update(TOKEN_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT event_type, field FROM {Metric._meta.db_table} "
                       f"WHERE event_type IN ({_in(event_types)}) "
                       f"AND aggregation IN ({_in(NUMERIC_AGGREGATIONS)}) AND field <> ''",
                       [*event_types, *NUMERIC_AGGREGATIONS])
        for event_type, name in cursor.fetchall():
            fields[event_type].add(name)
    return {event_type: tuple(sorted(names)) for event_type, names in fields.items()}


class _Validator:
    """Checks one batch. Built once per batch; the lookups it needs are loaded up front."""

    def __init__(self, events: Sequence[Any], *, now: dt.datetime):
        refs, event_types, has_ai = set(), set(), False
        for raw in events:
            if type(raw) is dict:
                ref, event_type = raw.get("customer"), raw.get("event_type")
                if type(ref) is str:
                    refs.add(ref)
                if type(event_type) is str:
                    event_types.add(event_type)
                    has_ai = has_ai or event_type == AI_CALL
        # Only text the columns can hold is looked up: PostgreSQL refuses a NUL or a lone
        # surrogate in a query parameter, which would fail the whole batch.
        refs = sorted(r for r in refs if _text_error(r, MAX_CUSTOMER) is None)
        event_types = sorted(e for e in event_types if _text_error(e, MAX_EVENT_TYPE) is None)
        self.customers = _customers(refs) if refs else {}
        self.numeric = _numeric_fields(event_types) if event_types else {}
        self.price_book: PriceBook | None = load_price_book() if has_ai else None
        self.latest = min(now + dt.timedelta(seconds=settings.USAGE_FUTURE_TOLERANCE_SECONDS),
                          END_OF_RANGE - dt.timedelta(microseconds=1))
        self.earliest = max(now - dt.timedelta(days=settings.USAGE_BACKFILL_DAYS),
                            EARLIEST_MOMENT)

    def check(self, raw: Any) -> tuple[Row | None, dict[str, list[str]] | None]:
        if type(raw) is not dict:
            return None, {"non_field_errors": ["An event must be a JSON object."]}
        errors: dict[str, list[str]] = {}
        transaction_id, ref = raw.get("transaction_id"), raw.get("customer")
        event_type, stamp = raw.get("event_type"), raw.get("timestamp")

        if (message := _text_error(transaction_id, MAX_TRANSACTION_ID)) is not None:
            errors["transaction_id"] = [message]
        if (message := _text_error(event_type, MAX_EVENT_TYPE)) is not None:
            errors["event_type"] = [message]
        customer = self.customers.get(ref) if type(ref) is str else None
        if customer is None:
            if ref is None or ref == "":
                errors["customer"] = [REQUIRED]
            elif type(ref) is not str:
                errors["customer"] = ["Must be the customer's external_id (a string)."]
            elif (message := _text_error(ref, MAX_CUSTOMER)) is not None:
                errors["customer"] = [message]
            else:
                errors["customer"] = [f"No customer has external_id {ref[:200]!r}."]
        elif customer[1]:
            errors["customer"] = [f"Customer {ref!r} is archived and accepts no usage."]
        timestamp = self._timestamp(stamp, errors)

        props = raw.get("properties")
        if props is None:
            props = {}
        elif type(props) is not dict:
            errors["properties"] = ["Must be a JSON object."]
            return None, errors
        for name in self.numeric.get(event_type, ()) if type(event_type) is str else ():
            if name in props:
                value = props[name]
                kind = type(value)
                if kind is not int and kind is not float:
                    errors[f"properties.{name}"] = [f"Must be a number (a metric aggregates "
                                                    f"{name}); got {value!r:.50}."]
                elif value < 0:
                    errors[f"properties.{name}"] = ["Must not be negative."]
                elif value > MAX_QUANTITY:
                    errors[f"properties.{name}"] = [f"Must be at most {MAX_QUANTITY:.0e}."]
        model = props.get("model")
        model = model if type(model) is str else ""
        if len(model) > MAX_MODEL:
            errors["properties.model"] = [f"At most {MAX_MODEL} characters."]
        seat = props.get("seat")
        seat = seat.strip().lower() if type(seat) is str else ""
        if len(seat) > MAX_SEAT:
            errors["properties.seat"] = [f"At most {MAX_SEAT} characters."]
        if errors:
            return None, errors

        try:
            props_json = _json_encode(props)
            storable = not ("\\u0000" in props_json or "\\ud" in props_json) or _storable(props)
        except (ValueError, RecursionError):
            props_json, storable = "", False
        if not storable:
            return None, {"properties": ["Must hold storable JSON: no NUL characters "
                                         "(\\u0000), unpaired surrogates, or numbers that "
                                         "are infinite or too long to read."]}
        cost, unpriced = None, False
        if event_type == AI_CALL:
            provider = props.get("provider")
            cost = cost_for(self.price_book, model, provider if type(provider) is str else None,
                            props.get("input_tokens", 0), props.get("output_tokens", 0),
                            timestamp) if model else None
            unpriced = cost is None
            if cost is not None and cost >= MAX_COST:  # only with absurd admin-set prices
                return None, {"properties": ["The provider cost of these tokens is out of range."]}
        return (customer[0], transaction_id, event_type, timestamp, props, props_json, model,
                seat, cost, unpriced), None

    def _timestamp(self, stamp: Any, errors: dict) -> dt.datetime | None:
        if stamp is None or stamp == "":
            errors["timestamp"] = [REQUIRED]
            return None
        try:
            # Python 3.11's fromisoformat reads the ISO 8601 forms clients send, "Z" included,
            # but stops reading at a NUL: "2026-11-15\x00junk" would pass.
            if "\x00" in stamp:
                raise ValueError(stamp)
            timestamp = dt.datetime.fromisoformat(stamp)
        except (TypeError, ValueError):
            errors["timestamp"] = [f"Must be an ISO 8601 date-time such as "
                                   f"2026-10-05T12:00:00Z; got {stamp!r:.60}."]
            return None
        if not MIN_YEAR <= timestamp.year <= MAX_YEAR:
            errors["timestamp"] = [f"{YEAR_RANGE_MESSAGE} Got {timestamp.year}."]
            return None
        tz = timestamp.tzinfo
        if tz is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)  # times without an offset are UTC
        elif tz is not dt.UTC:
            # Stored (and sent to COPY) in UTC: PostgreSQL reads no offset with a fraction
            # of a second and none beyond ±15:59:59. Within 1970–2200 this cannot overflow.
            timestamp = timestamp.astimezone(dt.UTC)
        if timestamp > self.latest:
            errors["timestamp"] = [
                f"More than {settings.USAGE_FUTURE_TOLERANCE_SECONDS} seconds in the future "
                f"(accepted until {self.latest.isoformat()})."]
        elif timestamp < self.earliest:
            errors["timestamp"] = [
                f"Older than the {settings.USAGE_BACKFILL_DAYS}-day backfill window "
                f"(accepted from {self.earliest.isoformat()})."]
        return timestamp


@dataclass
class ValidatedBatch:
    rows: list[Row]
    indexes: list[int]  # each row's position in the request
    rejected: list[dict[str, Any]]
    duplicates: int  # copies of an earlier event of the same batch


def validate_events(events: Sequence[Any], *, now: dt.datetime) -> ValidatedBatch:
    validator = _Validator(events, now=now)
    check = validator.check
    rows: list[Row] = []
    indexes: list[int] = []
    rejected: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    duplicates = 0
    for index, raw in enumerate(events):
        row, errors = check(raw)
        if errors is not None:
            rejected.append({"index": index, "errors": errors})
            continue
        key = (row[0], row[1])
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        rows.append(row)
        indexes.append(index)
    return ValidatedBatch(rows, indexes, rejected, duplicates)


# ---------------------------------------------------------------------------- writing

def ingest_events(*, events: Sequence[Any], now: dt.datetime,
                  received_at: dt.datetime | None = None) -> IngestResult:
    """Validate and store a batch; good events are kept whatever happens to the others.

    ``now`` anchors the timestamp window; ``received_at`` (default ``now``) is stamped on
    the rows and must be the real clock: the rollup job reads new events by it.
    """
    batch = validate_events(events, now=now)
    received_at = now if received_at is None else received_at
    inserted, failed = write_batch(rows=batch.rows, received_at=received_at) \
        if batch.rows else (0, [])
    rejected = batch.rejected
    if failed:
        rejected = sorted([*rejected, *({"index": batch.indexes[position], "errors": {
            "non_field_errors": [UNSTORABLE]}} for position in failed)],
            key=lambda entry: entry["index"])
    return IngestResult(accepted=inserted,
                        duplicates=batch.duplicates + len(batch.rows) - len(failed) - inserted,
                        rejected=rejected)
