"""Value objects the rating engine works on: the price book, seats and the result."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from common.currencies import minor_units
from invoices.rating.money import round_money
from plans.charge_rules import ChargeModel, charge_errors
from plans.periods import Period


class InvoiceStatus(StrEnum):
    """Where an invoice is in its life; ``Invoice.Status`` takes its values from here, so
    planning and late usage can read saved invoices' states without the model."""

    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    VOID = "void"


class LineKind(StrEnum):
    """What an invoice line bills; ``InvoiceLine.Kind`` takes its values from here, so the
    engine needs no model to name them."""

    SEAT = "seat"
    BASE_FEE = "base_fee"
    USAGE = "usage"
    OVERAGE_CAP = "overage_cap"
    DISCOUNT = "discount"
    MINIMUM_COMMITMENT = "minimum_commitment"
    LATE_USAGE = "late_usage"


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive cumulative upper bound; None = no bound
    unit_price: Decimal
    flat_fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class ChargeTerms:
    key: str
    metric: str
    model: ChargeModel
    unit_price: Decimal | None = None
    package_size: int | None = None
    package_price: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    included_units: Decimal = Decimal(0)
    included_per_seat: Decimal | None = None
    description: str = ""

    def __post_init__(self) -> None:
        # Fail when the price book is built, not halfway through a billing run, by the
        # rules the API and the admin checked the charge with when it was written.
        errors = charge_errors({
            "model": self.model, "unit_price": self.unit_price,
            "package_size": self.package_size, "package_price": self.package_price,
            "included_units": self.included_units, "included_per_seat": self.included_per_seat,
            "tiers": [{"up_to": t.up_to, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
                      for t in self.tiers],
        })
        if errors:
            reasons = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items())
            raise ValueError(f"charge {self.key!r}: {reasons}")


@dataclass(frozen=True)
class Terms:
    """A plan version's price book after the contract's overrides."""

    currency: str
    seat_price: Decimal
    base_fee: Decimal
    charges: tuple[ChargeTerms, ...]
    committed_seats: int = 0
    discount_percent: Decimal | None = None
    overage_cap: Decimal | None = None
    minimum_commitment: Decimal | None = None

    def __post_init__(self) -> None:
        minor_units(self.currency)  # raises for an unsupported currency
        if self.committed_seats < 0:
            raise ValueError("committed_seats must not be negative")
        if self.discount_percent is not None and not 0 <= self.discount_percent <= 100:
            raise ValueError("discount_percent must be between 0 and 100")
        for name in ("overage_cap", "minimum_commitment"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        keys = [c.key for c in self.charges]
        if len(keys) != len(set(keys)):
            raise ValueError("charge keys must be unique")


@dataclass(frozen=True)
class Overrides:
    """A contract's negotiated terms; None keeps the plan version's value."""

    seat_price: Decimal | None = None
    base_fee: Decimal | None = None
    included_per_seat: Decimal | None = None
    discount_percent: Decimal | None = None
    overage_cap: Decimal | None = None
    minimum_commitment: Decimal | None = None
    committed_seats: int | None = None


def apply_overrides(version: Terms, overrides: Overrides) -> Terms:
    changes = {
        field.name: getattr(overrides, field.name)
        for field in dataclasses.fields(Overrides)
        if field.name != "included_per_seat" and getattr(overrides, field.name) is not None
    }
    if overrides.included_per_seat is not None:
        # Only charges that grant a per-seat allowance get the negotiated one.
        changes["charges"] = tuple(
            dataclasses.replace(c, included_per_seat=overrides.included_per_seat)
            if c.included_per_seat is not None
            else c
            for c in version.charges
        )
    return dataclasses.replace(version, **changes)


@dataclass(frozen=True)
class SeatSpan:
    email: str
    active_from: dt.datetime
    active_until: dt.datetime | None  # exclusive; None = still active


@dataclass(frozen=True)
class TierUsage:
    up_to: Decimal | None
    units: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal  # unrounded: only whole lines are rounded


@dataclass(frozen=True)
class Line:
    kind: LineKind
    description: str
    amount: Decimal
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    metric: str | None = None
    charge_key: str | None = None
    value: Decimal | None = None
    included: Decimal | None = None
    billable: Decimal | None = None
    tiers: tuple[TierUsage, ...] = ()
    period_start: dt.date | None = None
    period_end: dt.date | None = None  # exclusive, like Period.end


@dataclass(frozen=True)
class RatedPeriod:
    currency: str
    period: Period
    seat_equivalents: Decimal
    billed_seats: Decimal
    lines: tuple[Line, ...]

    @property
    def total(self) -> Decimal:
        # Lines are already rounded; rounding the sum only fixes its exponent ("0.00").
        return round_money(sum((line.amount for line in self.lines), Decimal(0)), self.currency)
