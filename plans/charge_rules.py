"""What a usage charge's price must look like (SPEC 2.5), written once.

Pure: no ORM, no settings. Three paths check a charge with :func:`clean_charge`: the
plans service (the API's nested charges and publishing), the admin's charge and tier
forms, and the rating engine's ``ChargeTerms`` (so a price book the engine would refuse
cannot be saved, and the rules cannot drift apart). Which metric a charge prices is the
service's check: it needs the database.

Errors are keyed relative to the charge (``unit_price``, ``tiers[1].up_to``); callers
that hold many charges prefix them (``charges[2].tiers[1].up_to``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from common.bounds import MAX_PACKAGE_SIZE

Errors = dict[str, list[str]]


class ChargeModel(StrEnum):
    """How a charge prices its billable units; ``Charge.Model`` takes its values from here."""

    PER_UNIT = "per_unit"
    PACKAGE = "package"
    GRADUATED = "graduated"
    VOLUME = "volume"


TIERED = frozenset({ChargeModel.GRADUATED, ChargeModel.VOLUME})
_MODELS = frozenset(model.value for model in ChargeModel)


def nonnegative_number(value: Any, field: str, errors: Errors, *,
                       required: bool = False) -> Decimal | None:
    """``value`` as a Decimal ≥ 0, or None with the reason in ``errors[field]``."""
    if value is None or value == "":
        if required:
            errors[field] = ["This field is required."]
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[field] = ["A valid number is required."]
        return None
    if not number.is_finite() or number < 0:
        errors[field] = ["Must be a number ≥ 0."]
        return None
    return number


def _tier(tier: Mapping[str, Any], index: int, last: bool, previous: Decimal | None,
          errors: Errors) -> dict[str, Any]:
    where = f"tiers[{index}]"
    up_to = nonnegative_number(tier.get("up_to"), f"{where}.up_to", errors)
    if last and up_to is not None:
        errors[f"{where}.up_to"] = ["The last tier's up_to must be null (no limit)."]
    if not last and up_to is None and f"{where}.up_to" not in errors:
        errors[f"{where}.up_to"] = ["Only the last tier may have no limit."]
    if up_to is not None and previous is not None and up_to <= previous:
        errors[f"{where}.up_to"] = ["Tier limits must increase."]
    if up_to is not None and up_to <= 0:
        errors[f"{where}.up_to"] = ["Tier limits must be above zero."]
    unit_price = nonnegative_number(tier.get("unit_price", 0), f"{where}.unit_price", errors)
    flat_fee = nonnegative_number(tier.get("flat_fee", 0), f"{where}.flat_fee", errors)
    return {"position": index, "up_to": up_to, "unit_price": unit_price or Decimal(0),
            "flat_fee": flat_fee or Decimal(0)}


def _tiers(tiers: Any, errors: Errors) -> list[dict[str, Any]]:
    if isinstance(tiers, str | bytes | Mapping) or not isinstance(tiers, Sequence) or not tiers:
        errors["tiers"] = ["Tiered models need at least one tier."]
        return []
    cleaned: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for index, tier in enumerate(tiers):
        if not isinstance(tier, Mapping):
            errors[f"tiers[{index}]"] = ["Each tier is an object with up_to, unit_price, flat_fee."]
            continue
        cleaned.append(_tier(tier, index, index == len(tiers) - 1, previous, errors))
        previous = cleaned[-1]["up_to"] if cleaned[-1]["up_to"] is not None else previous
    return cleaned


def _package_size(size: Any, errors: Errors) -> int | None:
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        errors["package_size"] = ["package_size must be a whole number above zero."]
        return None
    if size > MAX_PACKAGE_SIZE:
        errors["package_size"] = [f"package_size must be at most {MAX_PACKAGE_SIZE}."]
        return None
    return size


def clean_charge(spec: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """A charge's model, prices, allowances, package size and tiers, checked together.

    ``spec`` holds them as sent (strings or numbers) or as stored (Decimals); ``tiers`` is
    a list of ``{up_to, unit_price, flat_fee}``. Returns the values as Decimals (tiers
    with their ``position``; ``package_size`` only for package charges) and the errors.
    """
    errors: Errors = {}
    model = spec.get("model")
    if not isinstance(model, str) or model not in _MODELS:
        errors["model"] = [f"model must be one of {', '.join(sorted(_MODELS))}."]
    number = nonnegative_number
    cleaned: dict[str, Any] = {
        "model": model,
        "unit_price": number(spec.get("unit_price"), "unit_price", errors,
                             required=model == ChargeModel.PER_UNIT),
        "package_price": number(spec.get("package_price"), "package_price", errors,
                                required=model == ChargeModel.PACKAGE),
        "package_size": None,
        "included_units": number(spec.get("included_units", 0), "included_units", errors)
        or Decimal(0),
        "included_per_seat": number(spec.get("included_per_seat"), "included_per_seat", errors),
        "tiers": [],
    }
    if model == ChargeModel.PACKAGE:
        cleaned["package_size"] = _package_size(spec.get("package_size"), errors)
    if model in TIERED:
        cleaned["tiers"] = _tiers(spec.get("tiers"), errors)
    elif spec.get("tiers"):
        errors["tiers"] = [f"{model} charges take no tiers."]
    return cleaned, errors


def charge_errors(spec: Mapping[str, Any]) -> Errors:
    """The errors of :func:`clean_charge` alone, for callers that keep their own values."""
    return clean_charge(spec)[1]


def filters_error(filters: Any) -> str | None:
    """What is wrong with a metric's or a charge's property filters, if anything."""
    if not isinstance(filters, Mapping):
        return "filters must be an object of property → value."
    for key, value in filters.items():
        if not isinstance(key, str) or not key:
            return "filter keys must be non-empty property names."
        if not isinstance(value, str | int | float | bool):
            return f"filter {key!r} must match a string, number or boolean."
    return None
