"""Numbers for people (the admin and the ops views): money in its currency's minor unit,
quantities without the padding of their columns, thousands grouped.

``1600.0000000000`` USD reads ``1,600.00``; a quantity ``5.000000`` reads ``5``. The
digits come from ``common.decimals`` (``tidy``/``money_places``), so a page and the API
never disagree on a value, only on how it is laid out; the API keeps its exact strings.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin

from common.decimals import money_places, tidy

EMPTY = "—"


def money_text(value: Decimal | int | str | None, currency: str | None = None, *,
               code: bool = False) -> str:
    """``1600.0000000000`` → ``"1,600.00"`` (``"1,600.00 USD"`` with ``code``); further
    places only when they carry a digit (a price of ``0.000002`` stays exact)."""
    if value is None or value == "":
        return EMPTY
    text = format(tidy(value, money_places(currency)), ",f")
    return f"{text} {currency}" if code and currency else text


def quantity_text(value: Decimal | int | str | None) -> str:
    """``1000000.000000`` → ``"1,000,000"``, ``0.500000`` → ``"0.5"``."""
    if value is None or value == "":
        return EMPTY
    return format(tidy(value), ",f")


def money_column(field: str, description: str | None = None, *,
                 currency: str | None = "currency", code: bool = True):
    """An admin display method for a money field; ``currency`` names the object's
    attribute (dotted for a relation, e.g. ``"invoice.currency"``), or None for prices
    without one (two places, e.g. provider prices in USD)."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, obj) -> str:
        code_of = _attribute(obj, currency) if currency else None
        return money_text(getattr(obj, field), code_of, code=code)

    return display


def quantity_column(field: str, description: str | None = None):
    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, obj) -> str:
        return quantity_text(getattr(obj, field))

    return display


def _attribute(obj, dotted: str):
    for name in dotted.split("."):
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj
