"""Metric arithmetic over plain event dicts (SPEC sections 1 and 2 step 4).

Pure: no Django. The SQLite paths of the rollup job and of the usage selectors use it,
and the tests use it as the reference that every database path must agree with. The
PostgreSQL paths do the same arithmetic in SQL (``usage/sql.py``); the rules below are
written so both give the same answer:

- A filter matches when the event's properties *contain* it the way PostgreSQL's
  ``jsonb @>`` does. For the usual scalar filter values that is plain JSON equality:
  ``"realtime" == "realtime"``, ``1 == 1.0``, but ``1 != "1"`` and ``1 != true``.
- A number is a JSON number (not a boolean) or a string spelling a plain decimal number
  (``"12"``, ``"-0.5"``, ``"1e3"``). Anything else contributes nothing to ``sum`` and
  ``max``. Floats count by their shortest repr (``0.1`` is exactly ``Decimal("0.1")``),
  which is the text stored in the JSON column. Each event's number is rounded half-up
  to 12 decimal places first: rollup rows keep 12 places, and rounding per event (not
  per hour) is what makes rollup sums equal raw sums, e.g. for ``0.30000000000000004``.
- ``max`` is over the events that carry a number; with none it is 0.
- ``unique_count`` counts distinct JSON values; a missing property or ``null`` is not
  counted. Values compare as JSON does (``1`` and ``1.0`` are one value).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal

from common.decimals import tidy

SUM = "sum"
COUNT = "count"
MAX = "max"
UNIQUE_COUNT = "unique_count"
AGGREGATIONS = (SUM, COUNT, MAX, UNIQUE_COUNT)

HOUR = dt.timedelta(hours=1)
ONE_DAY = dt.timedelta(days=1)
ZERO = Decimal(0)

# The same pattern is used in SQL (usage/sql.py); keep them identical. The exponent is
# bounded so a hostile string cannot make an enormous number.
NUMBER_PATTERN = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?$"
_NUMBER_RE = re.compile(NUMBER_PATTERN)

# Sums of many 38-digit values must not round: Decimal's default context keeps 28 digits.
# Room for the largest float (1.8e308) at 12 places.
_EXACT = Context(prec=2000)
PLACES = 12  # UsageRollup.value's decimal places; SQL rounds the same way (usage/sql.py)
_QUANTUM = Decimal(1).scaleb(-PLACES)


# --- JSON values ---------------------------------------------------------------------


def to_number(value: object) -> Decimal | None:
    """The value as a Decimal at 12 places when it is a number by the rules above, else None."""
    number = _exact_number(value)
    if number is None:
        return None
    return number.quantize(_QUANTUM, rounding=ROUND_HALF_UP, context=_EXACT)


def _exact_number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and _NUMBER_RE.match(value):
        return Decimal(value)
    return None


def json_key(value: object) -> tuple:
    """A hashable, orderable key with JSON equality: ``1``, ``1.0`` and ``Decimal(1)`` agree."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float | Decimal):
        number = _exact_number(value)
        return (2, number) if number is not None else (3, str(value))
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list | tuple):
        return (4, tuple(json_key(item) for item in value))
    if isinstance(value, Mapping):
        return (5, tuple(sorted((str(k), json_key(v)) for k, v in value.items())))
    return (3, str(value))


def json_contains(container: object, contained: object) -> bool:
    """PostgreSQL's ``container @> contained`` for JSON values below the top level."""
    if isinstance(contained, Mapping):
        return isinstance(container, Mapping) and all(
            key in container and json_contains(container[key], value)
            for key, value in contained.items()
        )
    if isinstance(contained, list | tuple):
        return isinstance(container, list | tuple) and all(
            any(json_contains(item, wanted) for item in container) for wanted in contained
        )
    if isinstance(container, Mapping | list | tuple):
        return False
    return json_key(container) == json_key(contained)


def matches(properties: Mapping, filters: Mapping | None) -> bool:
    return not filters or json_contains(properties, filters)


def matches_all(properties: Mapping, filter_sets: Iterable[Mapping | None]) -> bool:
    return all(matches(properties, filters) for filters in filter_sets)


# --- Hours -----------------------------------------------------------------------------


def floor_hour(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: dt.datetime) -> dt.datetime:
    floored = floor_hour(moment)
    return floored if floored == moment else floored + HOUR


def whole_hours(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    """The hour-aligned ``[first, last)`` inside ``[start, end)``, or None when there is none."""
    first, last = ceil_hour(start), floor_hour(end)
    return (first, last) if first < last else None


def floor_day(moment: dt.datetime) -> dt.datetime:
    return floor_hour(moment).replace(hour=0)


@dataclass(frozen=True)
class Spans:
    """Where a read of whole hours ``[start, end)`` finds its rollup rows: day rows for the
    whole UTC days inside, hour rows for the hours around them."""

    hours: tuple[tuple[dt.datetime, dt.datetime], ...]
    days: tuple[dt.datetime, dt.datetime] | None

    @classmethod
    def of(cls, start: dt.datetime, end: dt.datetime) -> Spans:
        first = floor_day(start)
        first = first if first == start else first + ONE_DAY
        last = floor_day(end)
        if first >= last:
            return cls(hours=((start, end),) if start < end else (), days=None)
        hours = tuple((lo, hi) for lo, hi in ((start, first), (last, end)) if lo < hi)
        return cls(hours=hours, days=(first, last))


# --- Aggregating -----------------------------------------------------------------------


@dataclass(frozen=True)
class MetricRule:
    """What a metric (plus a charge's extra filters) selects and how it adds up."""

    event_type: str
    aggregation: str
    field: str = ""
    filters: tuple[Mapping, ...] = ()

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {self.aggregation!r}")

    def selects(self, event_type: str, properties: Mapping) -> bool:
        if event_type != self.event_type or not matches_all(properties, self.filters):
            return False
        # An event without a number cannot raise a maximum; leaving it out keeps a
        # rollup row's value a true maximum (so max-of-maxes is exact, also below 0).
        return self.aggregation != MAX or to_number(properties.get(self.field)) is not None


@dataclass
class Accumulator:
    """A metric's running aggregate; merges events and rollup rows alike."""

    aggregation: str
    total: Decimal = ZERO
    count: int = 0
    maximum: Decimal | None = None
    distinct: dict[tuple, object] = field(default_factory=dict)

    def add_properties(self, properties: Mapping, field_name: str) -> None:
        self.count += 1
        if self.aggregation == COUNT:
            self.total += 1
        elif self.aggregation == SUM:
            number = to_number(properties.get(field_name))
            if number is not None:
                self.total = _EXACT.add(self.total, number)
        elif self.aggregation == MAX:
            self._raise_to(to_number(properties.get(field_name)))
        elif self.aggregation == UNIQUE_COUNT:
            value = properties.get(field_name)
            if value is not None:
                self.distinct.setdefault(json_key(value), value)

    def add_rollup(self, *, value: Decimal, event_count: int, distinct_values: list | None) -> None:
        self.count += event_count
        if self.aggregation in (SUM, COUNT):
            self.total = _EXACT.add(self.total, value)
        elif self.aggregation == MAX:
            self._raise_to(value)
        else:
            for item in distinct_values or ():
                self.distinct.setdefault(json_key(item), item)

    def _raise_to(self, number: Decimal | None) -> None:
        if number is not None and (self.maximum is None or number > self.maximum):
            self.maximum = number

    @property
    def value(self) -> Decimal:
        if self.aggregation in (SUM, COUNT):
            return tidy(self.total)
        if self.aggregation == MAX:
            return tidy(self.maximum) if self.maximum is not None else ZERO
        return Decimal(len(self.distinct))

    def distinct_values(self) -> list:
        return [self.distinct[key] for key in sorted(self.distinct)]


def aggregate(
    events: Iterable[Mapping],
    rule: MetricRule,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Decimal:
    """The metric's value over raw events with ``timestamp`` in ``[start, end)``.

    Each event is a mapping with ``event_type``, ``timestamp`` and ``properties``.
    """
    acc = Accumulator(rule.aggregation)
    for event in events:
        timestamp = event["timestamp"]
        if (start is not None and timestamp < start) or (end is not None and timestamp >= end):
            continue
        if rule.selects(event["event_type"], event["properties"]):
            acc.add_properties(event["properties"], rule.field)
    return acc.value


# --- Breakdowns ---------------------------------------------------------------------

# What breakdowns group events by; "" is no grouping (every event of the type).
DIMENSIONS = ("model", "seat", "latency_tier", "initiated_by")
MEMBER_LENGTH = 254  # UsageBreakdown.member; longer property values are cut, as in SQL


def member_of(event: Mapping, dimension: str) -> str:
    """The event's value in a breakdown ``dimension``; "" when it has none.

    ``model`` and ``seat`` are the event's columns (ingest took them from the properties);
    the others are properties, grouped only when they are JSON strings.
    """
    if dimension in ("model", "seat"):
        return event[dimension] or ""
    value = event["properties"].get(dimension)
    return value[:MEMBER_LENGTH] if isinstance(value, str) else ""


def call_tokens(properties: Mapping) -> tuple[Decimal, Decimal, Decimal]:
    """(input, output, total) tokens of an event, numbers by the rules above; the total is
    ``total_tokens``, or input plus output when that is missing."""
    given = to_number(properties.get("input_tokens")), to_number(properties.get("output_tokens"))
    total = to_number(properties.get("total_tokens"))
    inputs, outputs = (n if n is not None else ZERO for n in given)
    return inputs, outputs, total if total is not None else _EXACT.add(inputs, outputs)


def slice_keys(event: Mapping) -> list[tuple[str, str]]:
    """The (dimension, member) groups an event counts in: ("", "") and every dimension it
    has a value in."""
    keys = [("", "")]
    for dimension in DIMENSIONS:
        member = member_of(event, dimension)
        if member:
            keys.append((dimension, member))
    return keys


@dataclass
class SliceTotals:
    """Events, tokens and provider cost of one breakdown group; merges events and rows."""

    events: int = 0
    input_tokens: Decimal = ZERO
    output_tokens: Decimal = ZERO
    total_tokens: Decimal = ZERO
    cost: Decimal = ZERO
    unpriced: int = 0

    def add_event(self, event: Mapping) -> None:
        """``event`` needs ``properties``, ``provider_cost`` and ``unpriced``."""
        inputs, outputs, total = call_tokens(event["properties"])
        self.add(events=1, input_tokens=inputs, output_tokens=outputs, total_tokens=total,
                 cost=Decimal(event["provider_cost"] or 0), unpriced=int(bool(event["unpriced"])))

    def add(self, *, events: int, input_tokens: Decimal, output_tokens: Decimal,
            total_tokens: Decimal, cost: Decimal, unpriced: int) -> None:
        self.events += events
        self.input_tokens = _EXACT.add(self.input_tokens, input_tokens)
        self.output_tokens = _EXACT.add(self.output_tokens, output_tokens)
        self.total_tokens = _EXACT.add(self.total_tokens, total_tokens)
        self.cost = _EXACT.add(self.cost, cost)
        self.unpriced += unpriced


def slice_hour(events: Iterable[Mapping]) -> dict[tuple[str, str], SliceTotals]:
    """The breakdown rows of one customer-hour's events of one type, by (dimension, member)."""
    rows: dict[tuple[str, str], SliceTotals] = {}
    for event in events:
        for key in slice_keys(event):
            rows.setdefault(key, SliceTotals()).add_event(event)
    return rows


@dataclass(frozen=True)
class HourRollup:
    """One rollup row's content (the model's ``value``, ``event_count``, … columns)."""

    value: Decimal
    event_count: int
    distinct_values: list | None
    provider_cost: Decimal


def rollup_hour(events: Sequence[Mapping], rule: MetricRule) -> HourRollup | None:
    """The rollup row for one metric over one customer-hour's events; None when none match.

    Events need ``provider_cost`` too.
    """
    acc = Accumulator(rule.aggregation)
    cost = ZERO
    for event in events:
        if rule.selects(event["event_type"], event["properties"]):
            acc.add_properties(event["properties"], rule.field)
            cost = _EXACT.add(cost, Decimal(event.get("provider_cost") or 0))
    if acc.count == 0:
        return None
    unique = rule.aggregation == UNIQUE_COUNT
    return HourRollup(
        value=acc.value,
        event_count=acc.count,
        distinct_values=acc.distinct_values() if unique else None,
        provider_cost=cost,
    )
