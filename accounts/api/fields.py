"""Serializer fields shared by every app's API: money and quantities as decimal strings.

Money is stored with 10 decimal places (unit prices need them) but ``"40.0000000000"``
tells a reader nothing, so amounts render with the currency's minor units and keep
further places only when they carry a digit: ``40`` → ``"40.00"``, ``0.000002`` →
``"0.000002"``, JPY ``4000`` → ``"4000"``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.currencies import is_supported, minor_units

DEFAULT_MONEY_PLACES = 2


def format_decimal(value: Decimal | int | str, *, min_places: int = 0) -> str:
    """``value`` as a plain decimal string with at least ``min_places`` decimals.

    Trailing zeros beyond ``min_places`` are dropped; no exponent notation ever.
    """
    number = Decimal(value)
    exponent = number.normalize().as_tuple().exponent
    significant = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    places = max(min_places, significant)
    return f"{number.quantize(Decimal(1).scaleb(-places)):f}"


def format_money(value: Decimal | int | str, *, currency: str | None = None) -> str:
    places = minor_units(currency) if currency and is_supported(currency) else DEFAULT_MONEY_PLACES
    return format_decimal(value, min_places=places)


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
        kwargs.setdefault("max_digits", 28)
        kwargs.setdefault("decimal_places", 10)
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

