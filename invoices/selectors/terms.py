"""From the catalog to the rating engine: price books, and contract overrides as stored.

Each charge gets a *key* that names it in ``Terms``, in the usage request and in
``Invoice.usage_snapshot``, built by :func:`charge_key` so the three always agree.
Price books are loaded in one query per batch of versions (charges, metrics and tiers
prefetched), never per charge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, MutableMapping
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch

from common.currencies import minor_units
from common.decimals import tidy
from invoices.rating import ChargeTerms, Tier
from invoices.rating.books import OVERRIDE_FIELDS, PriceBook
from invoices.rating.types import Terms
from plans.models import Charge, PlanVersion
from usage.selectors import ChargeUsage


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
    """The price book of a version whose plan, charges, metrics and tiers are loaded."""
    places = minor_units(version.currency)
    charges: list[ChargeTerms] = []
    measured: dict[str, ChargeUsage] = {}
    for charge in version.charges.all():
        metric = charge.metric
        key = charge_key(metric_code=metric.code, filters=charge.filters)
        if key in measured:  # the same metric and filters twice: keep both, apart
            key = f"{key}#{charge.position}"
        # The metric by code: a price book is plain data (invoices.selectors.usage finds
        # the rows the usage app measures, once per call).
        measured[key] = ChargeUsage(key=key, metric=metric.code,
                                    filters=dict(charge.filters or {}))
        charges.append(_charge_terms(charge, key, places))
    terms = Terms(
        currency=version.currency,
        seat_price=tidy(version.seat_price, places),
        base_fee=tidy(version.base_fee, places),
        charges=tuple(charges),
    )
    return PriceBook(
        version_id=version.pk, plan_code=version.plan.code, version=version.version,
        interval=version.billing_interval, terms=terms, usage_charges=tuple(measured.values()),
    )


def load_price_books(version_ids: Iterable[int],
                     books: MutableMapping[int, PriceBook] | None = None) -> dict[int, PriceBook]:
    """The price books of ``version_ids``; ``books`` is a cache shared across calls (a
    run's chunks share their versions), filled with the ones it lacked."""
    books = {} if books is None else books
    wanted = set(version_ids)
    missing = wanted - set(books)
    if missing:
        charges = Charge.objects.select_related("metric").prefetch_related("tiers")
        for version in PlanVersion.objects.filter(pk__in=missing).select_related(
            "plan"
        ).prefetch_related(Prefetch("charges", queryset=charges)):
            books[version.pk] = price_book(version)
    return {pk: books[pk] for pk in wanted}


def overrides_json(values: Mapping[str, Any]) -> tuple[tuple[str, str | int | None], ...]:
    """A contract's negotiated terms as stored on each invoice it rates (JSON values),
    sorted by name; ``values`` holds the contract's override columns."""
    data: list[tuple[str, str | int | None]] = []
    for name in sorted(OVERRIDE_FIELDS):
        value = values[name]
        data.append((name, value if value is None or isinstance(value, int) else str(tidy(value))))
    return tuple(data)
