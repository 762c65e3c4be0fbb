"""Rating one period (SPEC section 2) and late usage for a closed one (SPEC section 4).

Pure: the same terms, seats, usage and period always give the same lines. Every line
amount is rounded once, by ``round_money``, and a total is the sum of rounded lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal

from common.decimals import format_decimal
from invoices.rating.charges import fmt, price_charge
from invoices.rating.money import (
    as_decimal,
    in_money_context,
    quantize_half_up,
    round_money,
    round_unit_price,
)
from invoices.rating.seats import SEAT_PLACES, seat_equivalents
from invoices.rating.types import ChargeTerms, Line, LineKind, RatedPeriod, SeatSpan, Terms
from plans.periods import Period

ZERO = Decimal(0)


def _sum(lines: Sequence[Line]) -> Decimal:
    return sum((line.amount for line in lines), ZERO)


def _included(charge: ChargeTerms, billed_seats: Decimal) -> Decimal:
    per_seat = ZERO
    if charge.included_per_seat is not None:
        per_seat = (as_decimal(charge.included_per_seat) * billed_seats).to_integral_value(
            rounding=ROUND_FLOOR
        )
    return per_seat + as_decimal(charge.included_units)


def _usage_line(charge: ChargeTerms, value: Decimal, billed: Decimal, currency: str) -> Line:
    included = _included(charge, billed)
    billable = max(ZERO, value - included)
    priced = price_charge(charge, billable)
    label = charge.description or charge.metric
    return Line(
        kind=LineKind.USAGE,
        description=(
            f"{label}: {fmt(value)} used, {fmt(included)} included, "
            f"{fmt(billable)} billable {priced.detail}"
        ),
        amount=round_money(priced.amount, currency),
        quantity=priced.quantity,
        unit_price=priced.unit_price,
        metric=charge.metric,
        charge_key=charge.key,
        value=value,
        included=included,
        billable=billable,
        tiers=priced.tiers,
    )


def _seat_line(terms: Terms, used: Decimal, billed: Decimal) -> Line:
    price = round_unit_price(terms.seat_price)
    # Seat-equivalents carry six places (SEAT_PLACES); a whole count reads "5", not
    # "5.000000", on the invoice and on the Stripe line made from this description.
    description = f"Seats: {format_decimal(billed)} × {fmt(price)}"
    if billed > used:
        description += f" (committed {terms.committed_seats}, used {format_decimal(used)})"
    return Line(
        kind=LineKind.SEAT,
        description=description,
        amount=round_money(billed * price, terms.currency),
        quantity=billed,
        unit_price=price,
    )


@in_money_context
def rate_period(
    *,
    terms: Terms,
    seats: Sequence[SeatSpan],
    usage: Mapping[str, Decimal],
    period: Period,
) -> RatedPeriod:
    currency = terms.currency
    used_seats = seat_equivalents(seats, period)
    billed = quantize_half_up(max(Decimal(terms.committed_seats), used_seats), SEAT_PLACES)
    lines: list[Line] = []

    if terms.seat_price != 0:
        lines.append(_seat_line(terms, used_seats, billed))
    if terms.base_fee != 0:
        fee = round_money(terms.base_fee, currency)
        lines.append(Line(LineKind.BASE_FEE, "Base fee", fee, quantity=Decimal(1), unit_price=fee))

    usage_lines = [
        _usage_line(c, as_decimal(usage.get(c.key, ZERO)), billed, currency) for c in terms.charges
    ]
    lines.extend(usage_lines)

    usage_total = _sum(usage_lines)
    if terms.overage_cap is not None:
        # Rounding the cap first keeps lines + cap adjustment exactly at the cap.
        cap = round_money(terms.overage_cap, currency)
        if usage_total > cap:
            lines.append(
                Line(
                    LineKind.OVERAGE_CAP,
                    f"Overage cap: usage charges of {fmt(usage_total)} capped at {fmt(cap)}",
                    cap - usage_total,
                )
            )

    if terms.discount_percent:
        subtotal = _sum(lines)
        discount = round_money(-subtotal * as_decimal(terms.discount_percent) / 100, currency)
        if discount != 0:
            lines.append(
                Line(
                    LineKind.DISCOUNT,
                    f"Discount {fmt(terms.discount_percent)}% on {fmt(subtotal)}",
                    discount,
                )
            )

    if terms.minimum_commitment is not None:
        minimum = round_money(terms.minimum_commitment, currency)
        total = _sum(lines)
        if total < minimum:
            lines.append(
                Line(
                    LineKind.MINIMUM_COMMITMENT,
                    f"Minimum commitment of {fmt(minimum)}: true-up from {fmt(total)}",
                    minimum - total,
                )
            )

    return RatedPeriod(currency, period, used_seats, billed, tuple(lines))


@in_money_context
def late_usage_lines(
    *,
    terms: Terms,
    seats: Sequence[SeatSpan],
    usage_before: Mapping[str, Decimal],
    usage_after: Mapping[str, Decimal],
    period: Period,
) -> tuple[Line, ...]:
    """Lines that bill the late events of a closed period on that period's terms.

    One line per charge whose usage line changed, plus one adjustment when the cap,
    discount or minimum commitment moves the total by a different amount, so the
    lines always add up to exactly what the period should have cost more (or less).
    """
    before = rate_period(terms=terms, seats=seats, usage=usage_before, period=period)
    after = rate_period(terms=terms, seats=seats, usage=usage_after, period=period)
    difference = after.total - before.total
    if difference == 0:
        return ()

    old = {line.charge_key: line for line in before.lines if line.kind == LineKind.USAGE}
    lines: list[Line] = []
    for new in (line for line in after.lines if line.kind == LineKind.USAGE):
        prior = old[new.charge_key]
        change = new.amount - prior.amount
        if change == 0:
            continue
        late_units = new.value - prior.value
        lines.append(
            Line(
                kind=LineKind.LATE_USAGE,
                description=(
                    f"Late usage for {period}: {new.metric} {fmt(late_units)} late, "
                    f"{fmt(prior.billable)} → {fmt(new.billable)} billable"
                ),
                amount=change,
                quantity=late_units,
                metric=new.metric,
                charge_key=new.charge_key,
                value=late_units,
                billable=new.billable - prior.billable,
                period_start=period.start,
                period_end=period.end,
            )
        )

    rest = difference - _sum(lines)
    if rest != 0:
        lines.append(
            Line(
                kind=LineKind.LATE_USAGE,
                description=f"Late usage for {period}: overage cap, discount and minimum adjustment",
                amount=rest,
                period_start=period.start,
                period_end=period.end,
            )
        )
    return tuple(lines)
