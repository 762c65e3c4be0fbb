"""From the catalog to the rating engine: a contract's terms for one period, its periods,
and its seat history.

Everything here reads rows that callers have already loaded (with their charges, tiers,
metrics and migrations prefetched); nothing queries per charge. Each charge gets a *key*
that names it in ``Terms``, in the usage request and in ``Invoice.usage_snapshot``, built
by :func:`charge_key` so the three always agree.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from accounts.currencies import minor_units
from accounts.models import Seat
from invoices.rating import ChargeTerms, Overrides, SeatSpan, Terms, Tier, apply_overrides
from plans.models import Charge, Contract, PlanVersion
from plans.periods import Period, periods_between
from plans.selectors import contract_version_at
from usage.selectors import ChargeUsage

ONE_DAY = dt.timedelta(days=1)
OVERRIDE_FIELDS = (
    "seat_price", "base_fee", "included_per_seat", "discount_percent", "overage_cap",
    "minimum_commitment", "committed_seats",
)


def tidy(value: Decimal, min_places: int = 0) -> Decimal:
    """The same number without the padding of a ``decimal_places=10`` column.

    Descriptions and the API print what the engine computed, so ``0.0500000000``
    becomes ``0.05`` and a money amount keeps at least its currency's places.
    """
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    places = max(min_places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return value.quantize(Decimal(1).scaleb(-places))


def _opt(value: Decimal | None, min_places: int = 0) -> Decimal | None:
    return None if value is None else tidy(value, min_places)


def charge_key(*, metric_code: str, filters: Mapping[str, Any] | None) -> str:
    """The charge's name in terms, usage requests and snapshots: its metric, plus its own
    filters when it has any (two charges on one metric differ by their filters)."""
    if not filters:
        return metric_code
    parts = ",".join(
        f"{name}={json.dumps(value, sort_keys=True)}" for name, value in sorted(filters.items())
    )
    return f"{metric_code}[{parts}]"


@dataclass(frozen=True)
class PriceBook:
    """A plan version ready to rate: its terms (before overrides) and what to measure for
    each of its charges (keyed like the terms' charges)."""

    version_id: int
    terms: Terms
    usage_charges: tuple[ChargeUsage, ...]

    def with_overrides(self, overrides: Overrides) -> Terms:
        return apply_overrides(self.terms, overrides)


def _charge_terms(charge: Charge, key: str, places: int) -> ChargeTerms:
    return ChargeTerms(
        key=key,
        metric=charge.metric.code,
        model=charge.model,
        unit_price=_opt(charge.unit_price),
        package_size=charge.package_size,
        package_price=_opt(charge.package_price, places),
        tiers=tuple(
            Tier(_opt(t.up_to), tidy(t.unit_price), tidy(t.flat_fee, places))
            for t in charge.tiers.all()
        ),
        included_units=tidy(charge.included_units),
        included_per_seat=_opt(charge.included_per_seat),
        description=charge.metric.name or charge.metric.code,
    )


def price_book(version: PlanVersion) -> PriceBook:
    """Terms and usage rules of a version whose charges, metrics and tiers are prefetched."""
    places = minor_units(version.currency)
    charges: list[ChargeTerms] = []
    measured: dict[str, ChargeUsage] = {}
    for charge in version.charges.all():
        metric = charge.metric
        key = charge_key(metric_code=metric.code, filters=charge.filters)
        if key in measured:  # the same metric and filters twice: keep both, apart
            key = f"{key}#{charge.position}"
        measured[key] = ChargeUsage(key=key, metric=metric, filters=dict(charge.filters or {}))
        charges.append(_charge_terms(charge, key, places))
    terms = Terms(
        currency=version.currency,
        seat_price=tidy(version.seat_price, places),
        base_fee=tidy(version.base_fee, places),
        charges=tuple(charges),
    )
    return PriceBook(version.pk, terms, tuple(measured.values()))


# --- Contract overrides ---------------------------------------------------------------


def contract_overrides(contract: Contract) -> dict[str, str | int | None]:
    """The contract's negotiated terms as JSON (stored on each invoice it rates)."""
    data: dict[str, str | int | None] = {}
    for name in OVERRIDE_FIELDS:
        value = getattr(contract, name)
        data[name] = value if value is None or isinstance(value, int) else str(tidy(value))
    return data


def overrides_from(data: Mapping[str, Any]) -> Overrides:
    values: dict[str, Any] = {}
    for name in OVERRIDE_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        values[name] = int(value) if name == "committed_seats" else Decimal(str(value))
    return Overrides(**values)


def period_terms(book: PriceBook, overrides: Mapping[str, Any]) -> Terms:
    """A version's terms after the contract's overrides (committed seats included)."""
    return book.with_overrides(overrides_from(overrides))


# --- Periods and versions ----------------------------------------------------------------


def contract_interval(contract: Contract) -> str:
    # Migrations are refused across intervals, so the pin's interval holds for the term.
    return contract.plan_version.billing_interval


def contract_periods(contract: Contract, *, until: dt.date | None = None) -> tuple[Period, ...]:
    """The contract's periods, oldest first: the anchored periods that start within its
    term ``[start_date, end_date + 1)``, and (with ``until``) that end on or before it."""
    return term_periods(
        anchor=contract.anchor_date, interval=contract_interval(contract),
        start=contract.start_date, end_date=contract.end_date, until=until,
    )


def term_periods(*, anchor: dt.date, interval: str, start: dt.date, end_date: dt.date | None,
                 until: dt.date | None) -> tuple[Period, ...]:
    term_end = end_date + ONE_DAY if end_date is not None else None
    if term_end is None and until is None:
        raise ValueError("an evergreen contract has endless periods: pass until")
    return _anchored_periods(anchor, interval, start, term_end, until)


@functools.lru_cache(maxsize=4096)
def _anchored_periods(anchor: dt.date, interval: str, start: dt.date, term_end: dt.date | None,
                      until: dt.date | None) -> tuple[Period, ...]:
    # Cached: a run asks the same question for every contract sharing an anchor day.
    periods = []
    for period in periods_between(anchor, interval, start, term_end):
        if until is not None and period.end > until:
            break
        periods.append(period)
    return tuple(periods)


@functools.lru_cache(maxsize=1024)
def period_moments(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """``(period.start_at, period.end_at)``, built once: a run asks for every customer."""
    return period.start_at, period.end_at


def version_in_force(contract: Contract, period: Period) -> PlanVersion:
    """SPEC 3: a period is rated on the version in force at its start."""
    return contract_version_at(contract=contract, day=period.start)


# --- Seats -------------------------------------------------------------------------------


def seat_spans(seats: Iterable[Seat]) -> tuple[SeatSpan, ...]:
    return tuple(SeatSpan(s.email, s.active_from, s.active_until) for s in seats)


def spans_overlapping(spans: Iterable[SeatSpan], period: Period) -> tuple[SeatSpan, ...]:
    start, end = period_moments(period)
    return tuple(
        s for s in spans
        if s.active_from < end and (s.active_until is None or s.active_until > start)
    )
