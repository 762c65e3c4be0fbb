"""Pricing one usage charge on its billable units (SPEC 2.5). Amounts are unrounded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from invoices.rating.money import as_decimal, in_money_context, round_unit_price
from invoices.rating.types import ChargeTerms, Tier, TierUsage
from plans.charge_rules import ChargeModel

ZERO = Decimal(0)


@dataclass(frozen=True)
class ChargePrice:
    amount: Decimal  # unrounded; the engine rounds the whole line once
    quantity: Decimal
    unit_price: Decimal | None
    tiers: tuple[TierUsage, ...]
    detail: str  # how the amount was reached, for the line description


def fmt(value: Decimal) -> str:
    # Fixed-point always: an aggregated 5.2E+3 must read as 5200 on an invoice.
    return format(value, "f")


@in_money_context
def price_charge(charge: ChargeTerms, billable: Decimal) -> ChargePrice:
    billable = as_decimal(billable)
    if billable < 0:
        raise ValueError("billable units must not be negative")
    if charge.model == ChargeModel.PER_UNIT:
        return _per_unit(charge, billable)
    if charge.model == ChargeModel.PACKAGE:
        return _package(charge, billable)
    if charge.model == ChargeModel.GRADUATED:
        return _graduated(charge, billable)
    return _volume(charge, billable)


def _per_unit(charge: ChargeTerms, billable: Decimal) -> ChargePrice:
    price = round_unit_price(charge.unit_price)
    return ChargePrice(billable * price, billable, price, (), f"× {fmt(price)}")


def _package(charge: ChargeTerms, billable: Decimal) -> ChargePrice:
    size = Decimal(charge.package_size)
    price = as_decimal(charge.package_price)
    # divmod is exact where dividing then rounding up could misjudge a remainder.
    whole, rest = divmod(billable, size)
    packages = whole + (1 if rest > 0 else 0)
    detail = f"= {fmt(packages)} package(s) of {charge.package_size} × {fmt(price)}"
    return ChargePrice(packages * price, packages, price, (), detail)


def _tier_usage(tier: Tier, units: Decimal) -> TierUsage:
    price = round_unit_price(tier.unit_price)
    flat = as_decimal(tier.flat_fee)
    return TierUsage(tier.up_to, units, price, flat, units * price + flat)


def _graduated(charge: ChargeTerms, billable: Decimal) -> ChargePrice:
    used: list[TierUsage] = []
    floor = ZERO
    for tier in charge.tiers:
        if billable <= floor:
            break
        top = billable if tier.up_to is None else min(billable, tier.up_to)
        used.append(_tier_usage(tier, top - floor))
        if tier.up_to is None:
            break
        floor = tier.up_to
    amount = sum((t.amount for t in used), ZERO)
    parts = [_describe_tier(t) for t in used]
    detail = "graduated: " + " + ".join(parts) if parts else "graduated"
    return ChargePrice(amount, billable, None, tuple(used), detail)


def volume_tier(charge: ChargeTerms, billable: Decimal) -> Tier:
    """The tier ``billable`` falls in: the first whose inclusive bound reaches it."""
    for tier in charge.tiers:
        if tier.up_to is None or billable <= tier.up_to:
            return tier
    raise AssertionError("tiers are validated to end unbounded")


def _volume(charge: ChargeTerms, billable: Decimal) -> ChargePrice:
    if billable == 0:
        # Even the reached tier's flat fee is not owed when nothing is billable.
        return ChargePrice(ZERO, ZERO, None, (), "volume")
    used = _tier_usage(volume_tier(charge, billable), billable)
    return ChargePrice(
        used.amount, billable, used.unit_price, (used,), "volume: " + _describe_tier(used)
    )


def _describe_tier(tier: TierUsage) -> str:
    bound = "and up" if tier.up_to is None else f"up to {fmt(tier.up_to)}"
    text = f"{fmt(tier.units)} × {fmt(tier.unit_price)} ({bound})"
    if tier.flat_fee:
        text += f" + {fmt(tier.flat_fee)} flat"
    return text
