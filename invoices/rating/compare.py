"""What changes between two sets of terms: a scheduled migration's diff for the customer.

Pure: two ``Terms`` (each version's price book after the contract's overrides) in, the
differences out as values; the page words and formats them. Charges are matched by key
(their metric and filters), so a charge on the same metric reads as changed, not as one
removed and one added.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from invoices.rating.types import ChargeTerms, Terms, Tier


class Kind(StrEnum):
    MONEY = "money"  # an amount in the terms' currency
    QUANTITY = "quantity"  # units or seats
    PERCENT = "percent"
    TEXT = "text"
    TIERS = "tiers"  # a tuple of Tier


@dataclass(frozen=True)
class TermChange:
    subject: str  # what changes, e.g. "Seat price" or "Tasks completed: price per unit"
    kind: Kind
    before: Decimal | int | str | tuple[Tier, ...] | None  # None: not part of those terms
    after: Decimal | int | str | tuple[Tier, ...] | None


_TOP = (
    ("currency", "Currency", Kind.TEXT),
    ("seat_price", "Seat price", Kind.MONEY),
    ("base_fee", "Base fee", Kind.MONEY),
    ("committed_seats", "Committed seats", Kind.QUANTITY),
    ("discount_percent", "Discount", Kind.PERCENT),
    ("overage_cap", "Overage cap", Kind.MONEY),
    ("minimum_commitment", "Minimum commitment", Kind.MONEY),
)

_CHARGE = (
    ("model", "pricing", Kind.TEXT),
    ("unit_price", "price per unit", Kind.MONEY),
    ("package_size", "package size", Kind.QUANTITY),
    ("package_price", "price per package", Kind.MONEY),
    ("tiers", "tiers", Kind.TIERS),
    ("included_units", "included", Kind.QUANTITY),
    ("included_per_seat", "included per seat", Kind.QUANTITY),
)


def _same(a: object, b: object) -> bool:
    # Decimal("40.00") == Decimal("40") is what "unchanged" means here; tiers compare
    # field by field the same way (dataclass equality uses ==).
    return a == b


def _label(charge: ChargeTerms) -> str:
    return charge.description or charge.metric


def terms_changes(old: Terms, new: Terms) -> tuple[TermChange, ...]:
    """Every term that differs, top-level terms first, then charges in the new terms'
    order (then the charges the new terms drop)."""
    changes = [
        TermChange(subject, kind, getattr(old, name), getattr(new, name))
        for name, subject, kind in _TOP
        if not _same(getattr(old, name), getattr(new, name))
    ]
    before = {c.key: c for c in old.charges}
    after = {c.key: c for c in new.charges}
    for key, charge in after.items():
        previous = before.get(key)
        if previous is None:
            changes.append(TermChange(f"{_label(charge)}", Kind.TEXT, None, "added"))
            continue
        for name, what, kind in _CHARGE:
            a, b = getattr(previous, name), getattr(charge, name)
            if not _same(a, b):
                changes.append(TermChange(f"{_label(charge)}: {what}", kind, a, b))
    for key, charge in before.items():
        if key not in after:
            changes.append(TermChange(f"{_label(charge)}", Kind.TEXT, "charged", None))
    return tuple(changes)
