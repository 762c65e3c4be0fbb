"""The pure rating engine: price book + seats + usage + period -> invoice lines.

No Django, no ORM, no clock: callers load the data and persist the result.
"""

from invoices.rating.charges import ChargePrice, price_charge
from invoices.rating.engine import late_usage_lines, rate_period
from invoices.rating.money import round_money, round_unit_price, to_minor_units
from invoices.rating.seats import seat_days, seat_equivalents
from invoices.rating.types import (
    ChargeTerms,
    Line,
    LineKind,
    Overrides,
    RatedPeriod,
    SeatSpan,
    Terms,
    Tier,
    TierUsage,
    apply_overrides,
)

__all__ = [
    "ChargePrice",
    "ChargeTerms",
    "Line",
    "LineKind",
    "Overrides",
    "RatedPeriod",
    "SeatSpan",
    "Terms",
    "Tier",
    "TierUsage",
    "apply_overrides",
    "late_usage_lines",
    "price_charge",
    "rate_period",
    "round_money",
    "round_unit_price",
    "seat_days",
    "seat_equivalents",
    "to_minor_units",
]
