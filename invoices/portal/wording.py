"""Invoices in words people read: every line's arithmetic as a sentence, money in the
currency's minor unit with its symbol and thousands separators, quantities without
trailing zeros, periods as the days they cover ("1 Nov – 30 Nov 2026").

Pure: an invoice document (``invoices.documents``, strings as the API prints them) and
metric names in, text out; no ORM, clock or settings. The stored line descriptions are
the engine's (``Seats: 5.000000 × 40.00``); these sentences are built from the line's
numbers instead, so they cannot drift from the amounts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from common.decimals import format_decimal, format_money

MINUS = "−"  # U+2212: a minus sign, not a hyphen
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}

SEAT = "seat"
BASE_FEE = "base_fee"
USAGE = "usage"
OVERAGE_CAP = "overage_cap"
DISCOUNT = "discount"
MINIMUM_COMMITMENT = "minimum_commitment"
LATE_USAGE = "late_usage"


def _grouped(text: str) -> str:
    """``1234567.5`` → ``1,234,567.5`` (the integer part only)."""
    whole, dot, fraction = text.partition(".")
    return f"{int(whole):,}{dot}{fraction}"


def quantity(value: Decimal | str | int) -> str:
    """``1200.000000`` → ``1,200``; ``4.322581`` stays; ``-3`` → ``−3``."""
    number = Decimal(value)
    text = _grouped(format_decimal(abs(number)))
    return f"{MINUS}{text}" if number < 0 else text


def money(value: Decimal | str | int, currency: str) -> str:
    """``40`` USD → ``$40.00``; ``-1234.5`` EUR → ``−€1,234.50``; ``4000`` CHF →
    ``4,000.00 CHF`` (no symbol known: the code after the amount)."""
    number = Decimal(value)
    text = _grouped(format_money(abs(number), currency=currency))
    symbol = SYMBOLS.get(currency)
    text = f"{symbol}{text}" if symbol else f"{text} {currency}"
    return f"{MINUS}{text}" if number < 0 else text


def day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


def period(start: dt.date, end_exclusive: dt.date) -> str:
    """The days ``[start, end)`` covers, last day included: ``1 Nov – 30 Nov 2026``,
    ``15 Dec 2026 – 14 Jan 2027``; one day alone is ``1 Nov 2026``."""
    last = end_exclusive - dt.timedelta(days=1)
    if last <= start:
        return day(start)
    if start.year == last.year:
        return f"{start.day} {start:%b} – {day(last)}"
    return f"{day(start)} – {day(last)}"


# The engine writes "Discount 12.5% on 400.00": the percentage as agreed, not as rounded.
_PERCENT = re.compile(r"^Discount ([0-9]+(?:\.[0-9]+)?)%")


def _date(text: str | None) -> dt.date | None:
    return None if not text else dt.date.fromisoformat(text[:10])


def _plural(word: str, count: Decimal) -> str:
    return word if count == 1 else f"{word}s"


@dataclass(frozen=True)
class LineWords:
    """One invoice line for people: what it is, how its amount was reached, the amount."""

    position: int  # as stored (0-based, in order): the events export names the line by it
    kind: str
    title: str
    arithmetic: str  # the sentence, ending in "= amount"
    steps: tuple[str, ...]  # the tiers, one sentence each (graduated / volume charges)
    amount: str
    metric: str | None
    period: str | None  # late usage: the earlier period it bills
    has_events: bool  # a usage line: its events can be exported


def line_words(
    lines: Sequence[Mapping | object], *, currency: str, metric_names: Mapping[str, str],
    seat_equivalents: str | None = None,
) -> list[LineWords]:
    """The lines of an invoice document in order (each a ``LineDoc`` or its dict).

    An overage cap, discount or minimum commitment is worded from the lines before it
    (what it caps, discounts or tops up), so the sentences add up on the page.
    """
    words: list[LineWords] = []
    before = Decimal(0)
    usage_total = Decimal(0)
    for index, raw in enumerate(lines):
        line = raw if isinstance(raw, Mapping) else raw.as_dict()
        amount = Decimal(line["amount"])
        words.append(_line(index, line, amount, currency, metric_names, before, usage_total,
                           seat_equivalents))
        before += amount
        if line["kind"] == USAGE:
            usage_total += amount
    return words


def unit_name(name: str) -> str:
    """A metric's name as the unit after a number: "Tasks completed" → "tasks completed",
    "AI calls" stays (a first word in capitals is an acronym)."""
    first = name.split(" ", 1)[0]
    return name if first.isupper() else name[:1].lower() + name[1:]


def _unit(line: Mapping, metric_names: Mapping[str, str]) -> str:
    code = line.get("metric") or ""
    return unit_name(metric_names.get(code) or code or "units")


def _line(index, line, amount, currency, metric_names, before, usage_total,
          seat_equivalents) -> LineWords:
    kind = line["kind"]
    m = lambda value: money(value, currency)  # noqa: E731
    total = m(amount)
    steps: tuple[str, ...] = ()
    title = line["description"]
    late_period = None
    if kind == SEAT:
        seats = Decimal(line["quantity"])
        title = "Seats"
        arithmetic = f"{quantity(seats)} {_plural('seat', seats)} × {m(line['unit_price'])} = {total}"
        if seat_equivalents is not None and Decimal(seat_equivalents) < seats:
            arithmetic += (f" (your committed minimum; {quantity(seat_equivalents)} "
                           f"{_plural('seat', Decimal(seat_equivalents))} used)")
    elif kind == BASE_FEE:
        title = "Base fee"
        arithmetic = f"Base fee for the period = {total}"
    elif kind == USAGE:
        title, arithmetic, steps = _usage(line, m, total, _unit(line, metric_names))
    elif kind == OVERAGE_CAP:
        title = "Overage cap"
        cap = usage_total + amount
        arithmetic = (f"Usage charges of {m(usage_total)} are capped at {m(cap)}: "
                      f"{m(usage_total)} − {m(cap)} = {m(-amount)} off, so {total}")
    elif kind == DISCOUNT:
        title = "Discount"
        stated = _PERCENT.match(line["description"])
        share = Decimal(stated.group(1)) if stated else (
            (-amount / before * 100).quantize(Decimal("0.01")) if before else Decimal(0))
        arithmetic = f"{quantity(share)}% off {m(before)} = {total}"
    elif kind == MINIMUM_COMMITMENT:
        title = "Minimum commitment"
        arithmetic = (f"The minimum commitment is {m(before + amount)} and the lines above "
                      f"come to {m(before)}: {m(before + amount)} − {m(before)} = {total}")
    elif kind == LATE_USAGE:
        start, end = _date(line.get("period_start")), _date(line.get("period_end"))
        late_period = period(start, end) if start and end else None
        title, arithmetic = _late(line, m, total, _unit(line, metric_names), late_period)
    else:
        arithmetic = total
    return LineWords(
        position=index, kind=kind, title=title, arithmetic=arithmetic, steps=steps,
        amount=total, metric=line.get("metric"), period=late_period,
        has_events=kind in (USAGE, LATE_USAGE) and bool(line.get("metric")),
    )


def _usage(line: Mapping, m, total: str, unit: str) -> tuple[str, str, tuple[str, ...]]:
    used = Decimal(line["value"] or 0)
    included = Decimal(line["included"] or 0)
    billable = Decimal(line["billable"] or 0)
    title = line["description"].split(":", 1)[0] or unit
    if billable == 0:
        if included:
            return title, (f"{quantity(used)} {unit} used, within the {quantity(included)} "
                           f"included = {total}"), ()
        return title, f"{quantity(used)} {unit} used = {total}", ()
    if included:
        over = (f"{quantity(billable)} {unit} over the {quantity(included)} included "
                f"({quantity(used)} used)")
    else:
        over = f"{quantity(billable)} {unit}"
    tiers = line.get("tiers") or ()
    if tiers:
        steps = tuple(_tier(t, m, unit) for t in tiers)
        return title, f"{quantity(used)} {unit} used; {over}, priced in tiers = {total}", steps
    count = Decimal(line["quantity"] or 0)
    if count != billable:  # packages: the quantity is how many packages
        return title, (f"{over} = {quantity(count)} {_plural('package', count)} × "
                       f"{m(line['unit_price'])} = {total}"), ()
    return title, f"{over} × {m(line['unit_price'])} = {total}", ()


def _tier(tier: Mapping, m, unit: str) -> str:
    bound = f"up to {quantity(tier['up_to'])}" if tier.get("up_to") else "beyond"
    text = f"{quantity(tier['units'])} {unit} ({bound}) × {m(tier['unit_price'])}"
    if Decimal(tier.get("flat_fee") or 0):
        text += f" + {m(tier['flat_fee'])} flat"
    return f"{text} = {m(tier['amount'])}"


def _late(line: Mapping, m, total: str, unit: str, late_period: str | None) -> tuple[str, str]:
    when = f" for {late_period}" if late_period else ""
    title = f"Late usage{when}"
    if not line.get("metric"):
        return title, (f"The overage cap, discount or minimum of that period moves its "
                       f"total by {total}")
    late = Decimal(line["value"] or 0)
    billable = Decimal(line["billable"] or 0)
    return title, (f"{quantity(late)} {unit} arrived after that period was invoiced; "
                   f"{quantity(billable)} more of them are billable = {total}")
