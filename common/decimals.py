"""Decimals without the padding of their columns, and as text: the one way, everywhere.

A ``DECIMAL(28, 10)`` price reads back as ``40.0000000000`` and a ``numeric(38, 12)`` sum
as ``1000.000000000000``; neither tells a reader anything. :func:`tidy` drops the zeros
that carry no digit (keeping ``min_places``, e.g. a currency's minor units), and
:func:`format_decimal` prints the result in plain notation, never with an exponent. The
API fields, invoice documents and pages, usage totals and the rating terms all use these.
"""

from __future__ import annotations

from decimal import Context, Decimal

from common.currencies import is_supported, minor_units

# Enough digits for any column here (38 at most), so quantizing never rounds or traps.
_EXACT = Context(prec=100)
DEFAULT_MONEY_PLACES = 2


def tidy(value: Decimal | int | str, min_places: int = 0) -> Decimal:
    """The same number with no trailing zeros beyond ``min_places`` decimals.

    ``0.0500000000`` → ``0.05``; ``40.0000000000`` with ``min_places=2`` → ``40.00``;
    ``1000.000000`` → ``1000`` (an integer is never turned into ``1E+3``).
    """
    number = Decimal(value)
    exponent = number.normalize(_EXACT).as_tuple().exponent
    significant = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    places = max(min_places, significant)
    return number.quantize(Decimal(1).scaleb(-places), context=_EXACT)


def format_decimal(value: Decimal | int | str, *, min_places: int = 0) -> str:
    """``value`` as a plain decimal string with at least ``min_places`` decimals."""
    return f"{tidy(value, min_places):f}"


def money_places(currency: str | None) -> int:
    """The decimals an amount in ``currency`` always shows (2 when unknown)."""
    return minor_units(currency) if currency and is_supported(currency) else DEFAULT_MONEY_PLACES


def format_money(value: Decimal | int | str, *, currency: str | None = None) -> str:
    """An amount with its currency's minor units, and further places only when they carry
    a digit: ``40`` → ``"40.00"``, ``0.000002`` → ``"0.000002"``, JPY ``4000`` → ``"4000"``."""
    return format_decimal(value, min_places=money_places(currency))
