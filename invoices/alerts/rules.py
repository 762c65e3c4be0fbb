"""Which thresholds a period has crossed. Pure: frozen dataclasses and Decimal in, no
ORM, no clock, no settings (tested without a database).

Keys name what is crossed, and are stable across runs, so the database's
``(customer, key, period_start)`` constraint can make each crossing once per period:

- ``usage:<charge key>:<percent>``: a charge's usage reached that % of its allowance
  (only charges with an allowance; ``100`` is "the allowance is used up");
- ``spend:<amount>``: the bill so far reached the amount;
- ``projected:<amount>``: the bill projected at the period's end reached it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

DEFAULT_PERCENTS = (Decimal(80), Decimal(100))
HUNDRED = Decimal(100)


class Kind(StrEnum):
    USAGE_PERCENT = "usage_percent"
    SPEND = "spend"
    PROJECTED_SPEND = "projected_spend"


@dataclass(frozen=True)
class Threshold:
    kind: Kind
    value: Decimal  # a percentage for USAGE_PERCENT, else an amount in the period's currency


@dataclass(frozen=True)
class Allowance:
    """One charge's usage against what its contract includes this period."""

    charge_key: str
    metric: str
    description: str
    used: Decimal
    included: Decimal


@dataclass(frozen=True)
class PeriodStatus:
    """Where a customer's open period stands (from the upcoming invoice)."""

    currency: str
    period_start: dt.datetime
    period_end: dt.datetime
    allowances: tuple[Allowance, ...]
    bill_so_far: Decimal
    projected_bill: Decimal | None  # None: too early in the period to project


@dataclass(frozen=True)
class Crossing:
    key: str
    kind: Kind
    threshold: Decimal
    value: Decimal  # the usage or amount that crossed it
    allowance: Allowance | None = None

    def describe(self, currency: str) -> str:
        if self.kind == Kind.USAGE_PERCENT:
            assert self.allowance is not None
            return (f"{self.allowance.description or self.allowance.metric}: "
                    f"{_plain(self.threshold)}% of the allowance used "
                    f"({_plain(self.value)} of {_plain(self.allowance.included)})")
        what = "The bill so far" if self.kind == Kind.SPEND else "The projected bill"
        return f"{what} reached {currency} {self.threshold:.2f} ({currency} {self.value:.2f})"


def _plain(value: Decimal) -> str:
    """A number without trailing zeros and with thousands separators (80, 1,250.5)."""
    text = format(value.normalize(), "f")
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0")
    else:
        whole, fraction = text, ""
    whole = f"{int(whole):,}"
    return f"{whole}.{fraction}" if fraction else whole


def key_of(threshold: Threshold, charge_key: str = "") -> str:
    value = _plain(threshold.value).replace(",", "")
    if threshold.kind == Kind.USAGE_PERCENT:
        return f"usage:{charge_key}:{value}"
    return f"{'spend' if threshold.kind == Kind.SPEND else 'projected'}:{value}"


def effective_thresholds(thresholds: Iterable[Threshold]) -> tuple[Threshold, ...]:
    """A customer's thresholds with the defaults: without any usage-percent threshold of
    its own, 80 % and 100 % of every allowance apply. Sorted, duplicates dropped."""
    chosen = set(thresholds)
    if not any(t.kind == Kind.USAGE_PERCENT for t in chosen):
        chosen |= {Threshold(Kind.USAGE_PERCENT, p) for p in DEFAULT_PERCENTS}
    return tuple(sorted(chosen, key=lambda t: (list(Kind).index(t.kind), t.value)))


def crossings(thresholds: Sequence[Threshold], status: PeriodStatus) -> tuple[Crossing, ...]:
    """Every threshold the period has reached (value ≥ threshold), in threshold order.
    The caller drops those already recorded for the period; reaching is enough, so a
    usage exactly at the allowance is "100 % used"."""
    found: list[Crossing] = []
    for threshold in thresholds:
        if threshold.kind == Kind.USAGE_PERCENT:
            for allowance in status.allowances:
                if allowance.included <= 0:
                    continue  # no allowance: nothing to use up
                if allowance.used * HUNDRED >= threshold.value * allowance.included:
                    found.append(Crossing(key_of(threshold, allowance.charge_key),
                                          threshold.kind, threshold.value, allowance.used,
                                          allowance))
        elif threshold.kind == Kind.SPEND:
            if status.bill_so_far >= threshold.value:
                found.append(Crossing(key_of(threshold), threshold.kind, threshold.value,
                                      status.bill_so_far))
        elif status.projected_bill is not None and status.projected_bill >= threshold.value:
            found.append(Crossing(key_of(threshold), threshold.kind, threshold.value,
                                  status.projected_bill))
    return tuple(found)
