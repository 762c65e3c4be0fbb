"""The price book: a plan version ready to rate, and contract overrides in their stored form.

One ``PriceBook`` per version, built once for a whole run by
``invoices.selectors.terms.load_price_books``; the engine only reads its ``terms``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from invoices.rating.types import Overrides, Terms, apply_overrides

OVERRIDE_FIELDS = tuple(f.name for f in dataclasses.fields(Overrides))


def overrides_from(data: Mapping[str, Any]) -> Overrides:
    """Overrides from their JSON form, as stored on an invoice (decimals as strings)."""
    values: dict[str, Any] = {}
    for name in OVERRIDE_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        values[name] = int(value) if name == "committed_seats" else Decimal(str(value))
    return Overrides(**values)


@dataclass(frozen=True)
class PriceBook:
    """A plan version's terms before a contract's overrides, and what the usage app
    measures for each of its charges: ``usage.selectors.ChargeUsage`` naming its metric
    by code, keyed like ``terms.charges`` (the engine never reads them)."""

    version_id: int
    plan_code: str
    version: int  # the version's number within its plan
    interval: str
    terms: Terms
    usage_charges: tuple[Any, ...] = ()

    def with_overrides(self, overrides: Mapping[str, Any]) -> Terms:
        """The terms after a contract's overrides, given in their stored (JSON) form."""
        return apply_overrides(self.terms, overrides_from(overrides))
