"""The ranges every input must fall in, written once for the API, the admin and the models.

A billing back office has no business with the year 613 or 9628, and a count beyond what
the column (or ``datetime.timedelta``) holds turns into a 500 far from where it came in.
So every date, time, money amount and count is checked against these bounds at the edge,
with a message naming the limit. The API's serializer fields (``common.api.fields``)
and the admin forms (model-field validators) both use the functions here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

MIN_YEAR = 1970
MAX_YEAR = 2200
EARLIEST_DATE = dt.date(MIN_YEAR, 1, 1)
LATEST_DATE = dt.date(MAX_YEAR, 12, 31)
EARLIEST_MOMENT = dt.datetime(MIN_YEAR, 1, 1, tzinfo=dt.UTC)
# Exclusive: the last instant allowed is just before 2201-01-01T00:00:00Z.
END_OF_RANGE = dt.datetime(MAX_YEAR + 1, 1, 1, tzinfo=dt.UTC)

MAX_INTEGER = 2**31 - 1  # PositiveIntegerField / IntegerField columns are 32-bit
MAX_BIGINT = 2**63 - 1
MAX_NOTICE_DAYS = 3650  # ten years' notice is already generous; more overflows date arithmetic
MAX_SEATS = 1_000_000
MAX_PACKAGE_SIZE = 1_000_000_000
# Money columns are DecimalField(max_digits=28, decimal_places=10).
MONEY_MAX_DIGITS = 28
MONEY_DECIMAL_PLACES = 10
MAX_MONEY = Decimal(10) ** (MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES) - Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)

YEAR_RANGE_MESSAGE = f"Use a year from {MIN_YEAR} to {MAX_YEAR}."


def format_moment(value: dt.datetime) -> str:
    """``2026-11-01T01:00:00Z``: UTC, whole seconds, always a four-digit year.

    ``strftime("%Y")`` prints year 613 as ``613``, which is not ISO 8601; ``isoformat``
    pads it.
    """
    return value.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def date_in_range_error(value: dt.date) -> str | None:
    """The message for a date outside the supported years, or None."""
    if isinstance(value, dt.datetime):
        return moment_in_range_error(value)
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        return f"{YEAR_RANGE_MESSAGE} Got {value.year}."
    return None


def moment_in_range_error(value: dt.datetime) -> str | None:
    """The message for a time outside the supported years (after conversion to UTC), or None."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        return f"{YEAR_RANGE_MESSAGE} Got {value.year}."
    if value.tzinfo is None:
        return None
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        return YEAR_RANGE_MESSAGE
    if not EARLIEST_MOMENT <= utc < END_OF_RANGE:
        return f"{YEAR_RANGE_MESSAGE} Got {utc.year} in UTC."
    return None


def integer_range_error(value: Any, *, minimum: int, maximum: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "Use a whole number."
    if not minimum <= value <= maximum:
        return f"Use a whole number from {minimum} to {maximum}."
    return None


def money_error(value: Any) -> str | None:
    """A finite decimal that fits the money columns, or the reason it does not."""
    try:
        number = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        return "Use a decimal number."
    if not number.is_finite():
        return "Use a finite decimal number (not NaN or Infinity)."
    exponent = number.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_DECIMAL_PLACES:
        return f"Use at most {MONEY_DECIMAL_PLACES} decimal places."
    if abs(number) > MAX_MONEY:
        return f"Use at most {MONEY_MAX_DIGITS - MONEY_DECIMAL_PLACES} digits before the decimal point."
    return None


def check_in_range(**values: Any) -> None:
    """Refuse, naming each field, any date or time outside the supported years.

    Services call this before any date arithmetic (``end + timedelta``), which would
    otherwise overflow on year 9999 or quietly compute with year 376.
    """
    errors = {}
    for name, value in values.items():
        if isinstance(value, dt.date) and (message := date_in_range_error(value)):
            errors[name] = [message]
    if errors:
        raise ValidationError(errors)


def check_count(name: str, value: Any, *, minimum: int, maximum: int) -> None:
    if value is not None and (message := integer_range_error(value, minimum=minimum,
                                                             maximum=maximum)):
        raise ValidationError({name: [message]})


# --- Django validators (model fields, admin forms) -------------------------------------

def validate_date_in_range(value: dt.date) -> None:
    if value is not None and (message := date_in_range_error(value)):
        raise ValidationError(message, code="date_range")


def validate_moment_in_range(value: dt.datetime) -> None:
    if value is not None and (message := moment_in_range_error(value)):
        raise ValidationError(message, code="date_range")


def validate_money(value: Decimal) -> None:
    if value is not None and (message := money_error(value)):
        raise ValidationError(message, code="money")


class IntegerRangeValidator:
    """A deconstructible ``minimum <= value <= maximum`` check with one wording everywhere."""

    def __init__(self, minimum: int, maximum: int):
        self.minimum, self.maximum = minimum, maximum

    def __call__(self, value: int) -> None:
        if value is not None and (message := integer_range_error(
                value, minimum=self.minimum, maximum=self.maximum)):
            raise ValidationError(message, code="integer_range")

    def deconstruct(self) -> tuple[str, tuple, dict]:
        return "common.bounds.IntegerRangeValidator", (self.minimum, self.maximum), {}

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, IntegerRangeValidator)
                and (self.minimum, self.maximum) == (other.minimum, other.maximum))

    def __hash__(self) -> int:
        return hash((self.minimum, self.maximum))
