"""Margin arithmetic for the ops views: pure functions over frozen dataclasses (Decimal
in, no ORM, no clock, no settings), tested without a database.

Revenue is in the customer's currency; provider cost is what the model providers charge
the vendor, in ``COST_CURRENCY`` (model prices are USD). Without exchange rates the two
only subtract when the customer is billed in that currency: other rows show revenue and
cost and leave margin empty (and out of the totals), rather than a wrong number.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from invoices.rating.money import round_money

COST_CURRENCY = "USD"
ZERO = Decimal(0)
HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.1")
RECOGNIZED_PLACES = Decimal("1E-10")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- The period: a calendar month in UTC ---------------------------------------------


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str | None) -> Month | None:
        """``"2026-11"`` → November 2026; None for anything else (years 1970–2200)."""
        found = _MONTH.match(text or "")
        if not found:
            return None
        year, month = int(found[1]), int(found[2])
        if not (1970 <= year <= 2200 and 1 <= month <= 12):
            return None
        return cls(year, month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=dt.UTC)

    @property
    def end(self) -> dt.datetime:
        return self.next().start

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def is_open(self, today: dt.date) -> bool:
        """The month containing ``today``: no invoice yet, its revenue is an estimate."""
        return Month.of(today) == self

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return self.first_day.strftime("%B %Y")


def recent_months(today: dt.date, count: int = 13) -> list[Month]:
    """The month picker: this month and the ``count - 1`` before it, newest first."""
    months = [Month.of(today)]
    while len(months) < count:
        months.append(months[-1].previous())
    return months


def recognized(total: Decimal, start: dt.datetime, end: dt.datetime, month: Month) -> Decimal:
    """The part of an invoice's ``total`` (for the period ``[start, end)``) earned in
    ``month``: revenue is recognized evenly over the period, so a yearly invoice counts a
    twelfth-ish each month and a period anchored mid-month splits between two months."""
    lo, hi = max(start, month.start), min(end, month.end)
    if hi <= lo:
        return ZERO
    if start >= month.start and end <= month.end:
        return total
    share = total * Decimal(int((hi - lo).total_seconds())) / Decimal(
        int((end - start).total_seconds()))
    return share.quantize(RECOGNIZED_PLACES, ROUND_HALF_UP)  # an invoice total's places


# --- Per customer --------------------------------------------------------------------


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` to one decimal place; None when whole is 0."""
    if not whole:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(PERCENT_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class Customer:
    customer_id: int
    external_id: str
    name: str
    currency: str


@dataclass(frozen=True)
class CustomerMargin:
    customer: Customer
    revenue: Decimal  # in the customer's currency, as invoiced (or estimated)
    cost: Decimal  # provider cost, COST_CURRENCY, unrounded
    estimated: bool = False  # the open period: the bill of the usage so far

    @property
    def currency(self) -> str:
        return self.customer.currency

    @property
    def comparable(self) -> bool:
        return self.currency == COST_CURRENCY

    @property
    def margin(self) -> Decimal | None:
        return self.revenue - self.cost if self.comparable else None

    @property
    def margin_percent(self) -> Decimal | None:
        margin = self.margin
        return None if margin is None else percent(margin, self.revenue)

    @property
    def losing(self) -> bool:
        """Costs more than it brings in."""
        margin = self.margin
        return margin is not None and margin < 0

    @property
    def cost_shown(self) -> Decimal:
        return round_money(self.cost, COST_CURRENCY)

    @property
    def margin_shown(self) -> Decimal | None:
        margin = self.margin
        return None if margin is None else round_money(margin, self.currency)


def margin_rows(
    *, customers: Mapping[int, Customer], revenue: Mapping[int, Decimal],
    cost: Mapping[int, Decimal], estimated: bool = False,
) -> list[CustomerMargin]:
    """A row for every customer with revenue or cost in the period (unknown customers,
    e.g. events of a deleted one, are left out)."""
    ids = sorted((set(revenue) | set(cost)) & set(customers))
    return [
        CustomerMargin(customers[i], revenue.get(i, ZERO), cost.get(i, ZERO), estimated)
        for i in ids
    ]


SORTS = ("margin", "margin_percent", "revenue", "cost", "customer")


def _sort_value(row: CustomerMargin, key: str):
    if key == "customer":
        return row.customer.external_id.lower()
    value = getattr(row, key)
    # Rows without a comparable margin sort after the others whichever way is chosen.
    return value


def sort_rows(rows: Iterable[CustomerMargin], key: str = "margin",
              descending: bool = False) -> list[CustomerMargin]:
    """Money-losing rows first (the worst on top when sorting by margin ascending), then
    the others, each group ordered by ``key``; rows with no value for ``key`` last."""
    if key not in SORTS:
        key = "margin"
    rows = list(rows)

    def ordered(group: list[CustomerMargin]) -> list[CustomerMargin]:
        valued = [r for r in group if _sort_value(r, key) is not None]
        empty = [r for r in group if _sort_value(r, key) is None]
        valued.sort(key=lambda r: r.customer.external_id)
        valued.sort(key=lambda r: _sort_value(r, key), reverse=descending)
        return valued + sorted(empty, key=lambda r: r.customer.external_id)

    return ordered([r for r in rows if r.losing]) + ordered([r for r in rows if not r.losing])


@dataclass(frozen=True)
class MarginTotals:
    customers: int
    losing: int
    revenue: Decimal  # of the comparable rows (COST_CURRENCY)
    cost: Decimal  # of the comparable rows
    cost_all: Decimal  # every row's provider cost
    not_comparable: int  # rows billed in another currency

    @property
    def margin(self) -> Decimal:
        return round_money(self.revenue - self.cost, COST_CURRENCY)

    @property
    def margin_percent(self) -> Decimal | None:
        return percent(self.revenue - self.cost, self.revenue)

    @property
    def cost_shown(self) -> Decimal:
        return round_money(self.cost_all, COST_CURRENCY)


def totals(rows: Sequence[CustomerMargin]) -> MarginTotals:
    comparable = [r for r in rows if r.comparable]
    return MarginTotals(
        customers=len(rows),
        losing=sum(1 for r in rows if r.losing),
        revenue=sum((r.revenue for r in comparable), ZERO),
        cost=sum((r.cost for r in comparable), ZERO),
        cost_all=sum((r.cost for r in rows), ZERO),
        not_comparable=len(rows) - len(comparable),
    )


# --- Drill-down: the heavy tail and shares ---------------------------------------------


@dataclass(frozen=True)
class SeatTail:
    """How one customer's cost spreads over its seats, costliest first."""

    seats: tuple[tuple[str, Decimal], ...]  # (seat, cost), costliest first
    total: Decimal

    @property
    def top_decile_share(self) -> Decimal | None:
        """The share of the cost (percent) run up by the costliest tenth of the seats
        (at least one seat)."""
        if not self.seats:
            return None
        count = max(1, len(self.seats) // 10)
        return percent(sum((c for _, c in self.seats[:count]), ZERO), self.total)

    @property
    def median(self) -> Decimal | None:
        if not self.seats:
            return None
        costs = sorted(c for _, c in self.seats)
        middle = len(costs) // 2
        if len(costs) % 2:
            return costs[middle]
        return (costs[middle - 1] + costs[middle]) / 2

    @property
    def max_to_median(self) -> Decimal | None:
        """How many times the median seat the costliest seat costs (the "10x" check)."""
        median = self.median
        if not self.seats or not median:
            return None
        return (self.seats[0][1] / median).quantize(PERCENT_PLACES, ROUND_HALF_UP)


def seat_tail(costs: Mapping[str, Decimal]) -> SeatTail:
    ordered = sorted(costs.items(), key=lambda item: (-item[1], item[0]))
    return SeatTail(tuple(ordered), sum((c for _, c in ordered), ZERO))


def shares(parts: Mapping[str, Decimal | int]) -> dict[str, Decimal | None]:
    """Each part as a percentage of their sum (e.g. agent vs user cost)."""
    whole = sum((Decimal(v) for v in parts.values()), ZERO)
    return {name: percent(value, whole) for name, value in parts.items()}


@dataclass(frozen=True)
class AllowanceShare:
    """Hybrid-plan customers over their allowance in a period."""

    over: int
    hybrid: int

    @property
    def percent(self) -> Decimal | None:
        return percent(self.over, self.hybrid)


SEAT_LINE, USAGE_LINE = "seat", "usage"  # invoices.rating.types.LineKind values


def over_allowance(lines: Iterable[tuple]) -> bool | None:
    """(kind, included, billable) of one invoice's lines → whether it went over an
    allowance, or None when it is not a hybrid invoice (a seat line and a usage line
    with an allowance)."""
    lines = list(lines)
    if not any(kind == SEAT_LINE for kind, _, _ in lines):
        return None
    allowances = [billable for kind, included, billable in lines
                  if kind == USAGE_LINE and included and included > 0]
    if not allowances:
        return None
    return any(billable is not None and billable > 0 for billable in allowances)


def allowance_share(flags: Iterable[bool]) -> AllowanceShare:
    """One flag per hybrid-plan customer: True when any allowance was exceeded."""
    flags = list(flags)
    return AllowanceShare(over=sum(1 for f in flags if f), hybrid=len(flags))
