"""Money arithmetic: the one place an amount is rounded (SPEC section 2).

Every line amount goes through :func:`round_money`; nothing else in the rating
package quantizes money, so rounding can never happen twice or differently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import ParamSpec, TypeVar

from common.currencies import minor_units

UNIT_PRICE_PLACES = 10

# Rating must not depend on whatever context the calling thread left behind, and
# 60 digits keeps every product of a quantity and a 10-place price exact.
MONEY_CONTEXT = Context(
    prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow]
)

P = ParamSpec("P")
R = TypeVar("R")


def in_money_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` under :data:`MONEY_CONTEXT`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(MONEY_CONTEXT):
            return fn(*args, **kwargs)

    return wrapper


def as_decimal(value: Decimal | int) -> Decimal:
    # A float has already lost the exact value, so refuse it rather than guess.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"expected Decimal or int, got {type(value).__name__}")
    return Decimal(value)


def quantize_half_up(amount: Decimal | int, places: int) -> Decimal:
    exponent = Decimal((0, (1,), -places))
    result = as_decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP, context=MONEY_CONTEXT)
    # Quantizing a tiny negative gives -0.00, which would print as "-0.00".
    return result.copy_abs() if result.is_zero() else result


def round_money(amount: Decimal | int, currency: str) -> Decimal:
    """Half-up (ties away from zero, symmetric for negatives) to the minor unit."""
    return quantize_half_up(amount, minor_units(currency))


def to_minor_units(amount: Decimal | int, currency: str) -> int:
    """Integer count of minor units, as Stripe wants it (216.80 USD -> 21680)."""
    places = minor_units(currency)
    return int(round_money(amount, currency).scaleb(places, context=MONEY_CONTEXT))


def round_unit_price(price: Decimal | int) -> Decimal:
    """At most 10 decimal places; a price already within that is left as written."""
    price = as_decimal(price)
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -UNIT_PRICE_PLACES:
        return price
    return quantize_half_up(price, UNIT_PRICE_PLACES)
