"""Serializer fields shared by every app's API: bounded times, dates, counts and money.

Every API input goes through one of these (or a query-string helper below), so the
bounds of ``common.bounds`` hold on every route: years 1970–2200, times normalised to
UTC and printed as ISO 8601 with a four-digit year, counts that fit their column, money
that is finite and fits ``DECIMAL(28, 10)``.

Money is stored with 10 decimal places (unit prices need them) but ``"40.0000000000"``
tells a reader nothing, so amounts render through ``common.decimals.format_money``: the
currency's minor units, and further places only when they carry a digit.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from common.bounds import (
    MAX_BIGINT,
    MAX_INTEGER,
    MONEY_DECIMAL_PLACES,
    MONEY_MAX_DIGITS,
    date_in_range_error,
    format_moment,
    moment_in_range_error,
)
from common.decimals import format_decimal, format_money

__all__ = [
    "BoundedDateField", "BoundedDateTimeField", "BoundedIntegerField", "MoneyField",
    "QuantityField", "parse_query_datetime", "query_bool", "query_text",
]


def _resolve(instance: Any, path: str) -> Any:
    for name in path.split("."):
        if instance is None:
            return None
        instance = instance.get(name) if isinstance(instance, dict) else getattr(instance, name, None)
    return instance


@extend_schema_field({"type": "string", "format": "decimal", "example": "40.00"})
class MoneyField(serializers.DecimalField):
    """A price or amount: read as a number or decimal string, written as a decimal string.

    ``currency`` is a dotted path from the serialized object to its currency code
    (``"customer.currency"``); it sets how many places an amount always shows.
    """

    def __init__(self, *, currency: str | None = None, **kwargs: Any):
        kwargs.setdefault("max_digits", MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", MONEY_DECIMAL_PLACES)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs["coerce_to_string"] = True
        self.currency_path = currency
        self._currency: str | None = None
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        # Fields render one object at a time, so remembering its currency here is safe.
        self._currency = _resolve(instance, self.currency_path) if self.currency_path else None
        return super().get_attribute(instance)

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        return format_money(value, currency=self._currency)


@extend_schema_field({"type": "string", "format": "decimal", "example": "1000"})
class QuantityField(serializers.DecimalField):
    """A unit count or percentage (allowances, tier bounds): decimal string, no padding."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 6)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs["coerce_to_string"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str | None:
        if value is None:
            return None
        return format_decimal(value)



# --- times and dates -------------------------------------------------------------------

NUL_TEXT = "Text may not contain NUL (\\x00) characters."


@extend_schema_field({"type": "string", "format": "date-time", "example": "2026-11-01T00:00:00Z"})
class BoundedDateTimeField(serializers.DateTimeField):
    """A time from 1970 to 2200, read as ISO 8601 (no offset means UTC), kept in UTC.

    Any offset Python reads (``+05:30:15.123456``, ``-20:00``) is converted to UTC here,
    so nothing below the edge (PostgreSQL included) ever sees it.
    """

    default_error_messages = {
        "invalid": "Use an ISO 8601 time such as 2026-11-01T00:00:00Z.",
        "overflow": "Use a year from 1970 to 2200.",
    }

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str) and "\x00" in value:
            raise serializers.ValidationError(NUL_TEXT)
        moment = super().to_internal_value(value)
        if message := moment_in_range_error(moment):
            raise serializers.ValidationError(message)
        return moment.astimezone(dt.UTC)

    def to_representation(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            return value
        return format_moment(self.enforce_timezone(value))


@extend_schema_field({"type": "string", "format": "date", "example": "2026-11-01"})
class BoundedDateField(serializers.DateField):
    """A calendar date from 1970 to 2200 (ISO 8601, ``2026-11-01``)."""

    default_error_messages = {"invalid": "Use an ISO 8601 date such as 2026-11-01."}

    def to_internal_value(self, value: Any) -> dt.date:
        if isinstance(value, str) and "\x00" in value:
            raise serializers.ValidationError(NUL_TEXT)
        day = super().to_internal_value(value)
        if message := date_in_range_error(day):
            raise serializers.ValidationError(message)
        return day

    def to_representation(self, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if isinstance(value, str):
            return value
        return value.isoformat()


# --- counts ----------------------------------------------------------------------------

class BoundedIntegerField(serializers.IntegerField):
    """A whole number that fits its column: ``0..2**31-1`` unless told a tighter range."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_INTEGER)
        if kwargs["max_value"] > MAX_BIGINT or kwargs["min_value"] < -MAX_BIGINT - 1:
            raise ValueError("A bounded integer must fit a 64-bit column.")
        super().__init__(**kwargs)


# --- query strings ---------------------------------------------------------------------

TRUE_VALUES = {"true", "1", "yes"}
FALSE_VALUES = {"false", "0", "no"}


def query_text(request: Request, name: str) -> str | None:
    """The query parameter ``name``; None when absent or empty. NUL is a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is not None and "\x00" in raw:
        raise serializers.ValidationError({name: [NUL_TEXT]})
    return raw or None


def query_bool(request: Request, name: str) -> bool | None:
    """The query parameter ``name`` as true/false (also 1/0, yes/no); None when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise serializers.ValidationError({name: [f"Use true or false, not {raw!r}."]})


_QUERY_MOMENT = BoundedDateTimeField()


def parse_query_datetime(name: str, raw: str | None, *, require_offset: bool = False) -> dt.datetime | None:
    """The query parameter ``name`` as a bounded UTC time; None when absent or empty.

    A bare ``+`` in a query string arrives as a space, so ``?at=2026-11-01T00:00:00+01:00``
    sent unencoded still works. Without an offset the time is UTC, unless
    ``require_offset``. Bad input is a ``ValidationError`` naming ``name``.
    """
    if raw is None or raw == "":
        return None
    text = raw.strip().replace(" ", "+")
    if require_offset and "\x00" not in text:
        moment = _parse_or_none(text)
        if moment is not None and moment.tzinfo is None:
            raise serializers.ValidationError(
                {name: ["Give a timezone, e.g. a trailing Z for UTC: 2026-11-01T00:00:00Z."]}
            )
    try:
        return _QUERY_MOMENT.run_validation(text)
    except serializers.ValidationError as error:
        raise serializers.ValidationError({name: _messages(error)}) from None


def _parse_or_none(text: str) -> dt.datetime | None:
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def _messages(error: serializers.ValidationError) -> list[str]:
    detail = error.detail
    return [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
