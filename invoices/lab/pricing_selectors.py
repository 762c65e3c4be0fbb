"""The lab's pricing reads, shared by the API and the admin pages: a plan's distribution,
its archetypes priced on each plan kind, and its recommendation.

Each loads the plan's customer-periods once (``customer_periods``) and hands them to
the pure modules; nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from invoices.lab.archetypes import (
    CANDIDATE,
    CURRENT,
    SEAT_ONLY,
    Archetype,
    Bin,
    histogram,
    price_profiles,
    profiles,
    seat_only_terms,
)
from invoices.lab.customer_periods import Book, customer_periods
from invoices.lab.pricing import Distribution, distribution
from invoices.lab.recommendations import (
    DEFAULT_PERCENTILE,
    DEFAULT_SHARE,
    DEFAULT_TARGET_MARGIN,
    EmptySample,
    Recommendation,
    recommend,
)
from invoices.rating import Terms
from invoices.selectors.terms import load_price_books
from plans.models import Plan, PlanVersion
from plans.periods import Period
from plans.selectors import plan_current_version


@dataclass(frozen=True)
class Settings:
    """The knobs of a recommendation (defaults: P80, 70 % margin, 80 % share)."""

    percentile: int = DEFAULT_PERCENTILE
    target_margin: Decimal = DEFAULT_TARGET_MARGIN
    share: Decimal = DEFAULT_SHARE


def plan_distribution(*, plan: Plan, periods: int, now: dt.datetime) -> tuple[Book, Distribution]:
    book = customer_periods(plan=plan, periods=periods, now=now)
    return book, distribution(book.sample)


def plan_recommendation(*, plan: Plan, periods: int, now: dt.datetime,
                        settings: Settings = Settings()) -> Recommendation:
    """Raises ``EmptySample`` when the plan has no customer-period with billed seats."""
    book = customer_periods(plan=plan, periods=periods, now=now)
    return recommend(book.sample, percentile_k=settings.percentile,
                     target_margin=settings.target_margin, share=settings.share)


def version_terms(version: PlanVersion | None) -> Terms | None:
    if version is None:
        return None
    return load_price_books([version.pk])[version.pk].terms


@dataclass(frozen=True)
class ArchetypeReport:
    book: Book
    distribution: Distribution
    recommendation: Recommendation | None  # None for an empty sample
    current: PlanVersion | None
    candidate: PlanVersion | None
    period: Period | None  # the period the archetypes are rated on
    archetypes: list[Archetype]
    chart: list[Bin]  # per-seat cost of the customer-periods


def archetype_report(*, plan: Plan, periods: int, now: dt.datetime,
                     candidate: PlanVersion | None = None,
                     settings: Settings = Settings()) -> ArchetypeReport:
    """The plan's archetypes, each priced seat-only at the recommended price, on the
    current version and on ``candidate``, for one period like the sample's latest."""
    book, found = plan_distribution(plan=plan, periods=periods, now=now)
    current = plan_current_version(plan=plan, today=now.astimezone(dt.UTC).date(),
                                   currency=book.currency)
    try:
        advice = recommend(book.sample, percentile_k=settings.percentile,
                           target_margin=settings.target_margin, share=settings.share)
    except EmptySample:
        advice = None
    priced: list[Archetype] = []
    if advice is not None and book.latest_period is not None:
        books = {
            SEAT_ONLY: seat_only_terms(seat_price=advice.seat_price, currency=book.currency),
            CURRENT: version_terms(current),
            CANDIDATE: version_terms(candidate),
        }
        priced = price_profiles(profiles(found), books=books, period=book.latest_period)
    return ArchetypeReport(
        book=book, distribution=found, recommendation=advice, current=current,
        candidate=candidate, period=book.latest_period, archetypes=priced,
        chart=histogram(book.sample.seat_costs()),
    )
