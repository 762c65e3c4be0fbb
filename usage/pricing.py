"""Provider cost: what the vendor pays its model provider for one ``ai.call`` event.

``cost_for`` is a pure function over a ``PriceBook`` (frozen, built once per ingest batch)
so the rules are tested without a database:

    cost = input_tokens × input_per_million / 1e6 + output_tokens × output_per_million / 1e6
           + per_call

using the price in force at the event's timestamp (latest ``effective_from`` ≤ timestamp).
A model with no price in force is *unpriced*: the event is kept with cost 0 and flagged.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from types import MappingProxyType

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min

from usage.models import COST_FIELD, Event, ModelPrice

# Token counts × prices with 10 decimal places can exceed the default 28 digits; this
# context keeps every intermediate exact.
_EXACT = Context(prec=80)
_PER_MILLION = -6  # scaleb exponent: ÷ 1,000,000 exactly
# Event.provider_cost stores 12 places: quantizing here makes the computed value and the
# stored one identical on every database (storage precision, not money rounding).
COST_QUANTUM = Decimal(1).scaleb(-COST_FIELD["decimal_places"])
ZERO = Decimal(0)
MAX_COST = Decimal(10) ** (COST_FIELD["max_digits"] - COST_FIELD["decimal_places"])


_PRICE_PLACES = 10  # ModelPrice's price fields (plans.models.fields.price_field)


def _scaled(value: Decimal) -> int | None:
    """``value × 10^10`` as an exact int, or None if it has more places than a price field."""
    if not value.is_finite() or value.as_tuple().exponent < -_PRICE_PLACES:
        return None
    return int(_EXACT.scaleb(value, _PRICE_PLACES))


@dataclass(frozen=True, slots=True)
class Price:
    provider: str
    model: str
    effective_from: dt.datetime
    input_per_million: Decimal = ZERO
    output_per_million: Decimal = ZERO
    per_call: Decimal = ZERO
    # (input, output, per_call) × 10^10 as ints, for the exact integer fast path.
    scaled: tuple[int, int, int] | None = field(default=None, init=False, repr=False,
                                                compare=False)

    def __post_init__(self):
        scaled = (_scaled(self.input_per_million), _scaled(self.output_per_million),
                  _scaled(self.per_call))
        if None not in scaled and min(scaled) >= 0:
            object.__setattr__(self, "scaled", scaled)


_Timeline = tuple[tuple[dt.datetime, ...], tuple[Price, ...]]


def _timeline(prices: Iterable[Price]) -> _Timeline:
    ordered = sorted(prices, key=lambda p: (p.effective_from, p.provider))
    return tuple(p.effective_from for p in ordered), tuple(ordered)


@dataclass(frozen=True)
class PriceBook:
    """Every known price as timelines sorted by ``(effective_from, provider)``: one per
    model (any provider) and one per ``(model, provider)``."""

    by_model: Mapping[str, _Timeline] = field(default_factory=dict)
    by_model_provider: Mapping[tuple[str, str], _Timeline] = field(default_factory=dict)

    @classmethod
    def from_prices(cls, prices: Iterable[Price]) -> PriceBook:
        models: dict[str, list[Price]] = {}
        pairs: dict[tuple[str, str], list[Price]] = {}
        for price in prices:
            models.setdefault(price.model, []).append(price)
            pairs.setdefault((price.model, price.provider), []).append(price)
        return cls(
            MappingProxyType({key: _timeline(rows) for key, rows in models.items()}),
            MappingProxyType({key: _timeline(rows) for key, rows in pairs.items()}),
        )

    def price_at(self, model: str, provider: str | None, at: dt.datetime) -> Price | None:
        """The price in force at ``at``: latest ``effective_from`` ≤ ``at``.

        With ``provider`` given only that provider's prices count. Without it, if several
        providers price the same model name, the most recently effective price wins (ties:
        the provider that sorts last), which is deterministic.
        """
        timeline = (self.by_model_provider.get((model, provider)) if provider
                    else self.by_model.get(model))
        if timeline is None:
            return None
        dates, prices = timeline
        index = bisect.bisect_right(dates, at)
        return prices[index - 1] if index else None


def _decimal(tokens: int | float | Decimal) -> Decimal:
    if isinstance(tokens, Decimal):
        return tokens
    # str() for floats: 1.1 tokens means 1.1, not its binary expansion.
    return Decimal(tokens) if isinstance(tokens, int) else Decimal(str(tokens))


_HALF_UP_UNIT = 10 ** (16 - COST_FIELD["decimal_places"])  # 1e-16 units per 1e-12


def price_cost(price: Price, input_tokens, output_tokens) -> Decimal:
    scaled = price.scaled
    if scaled is not None and type(input_tokens) is int and type(output_tokens) is int \
            and input_tokens >= 0 and output_tokens >= 0:
        # The same arithmetic in exact integers (units of 1e-16 USD: tokens × price × 10^10
        # ÷ 10^6), several times faster than Decimal on the ingest hot path.
        total = input_tokens * scaled[0] + output_tokens * scaled[1] + scaled[2] * 1_000_000
        units, rest = divmod(total, _HALF_UP_UNIT)
        if rest * 2 >= _HALF_UP_UNIT:
            units += 1
        return _EXACT.scaleb(Decimal(units), -COST_FIELD["decimal_places"])
    c = _EXACT
    total = c.add(
        c.add(
            c.scaleb(c.multiply(_decimal(input_tokens), price.input_per_million), _PER_MILLION),
            c.scaleb(c.multiply(_decimal(output_tokens), price.output_per_million), _PER_MILLION),
        ),
        price.per_call,
    )
    return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP, context=c)


def cost_for(price_book: PriceBook, model: str, provider: str | None,
             input_tokens: int | float | Decimal, output_tokens: int | float | Decimal,
             at: dt.datetime) -> Decimal | None:
    """Provider cost of one call, or None when no price for ``model`` is in force at ``at``."""
    price = price_book.price_at(model, provider, at)
    if price is None:
        return None
    return price_cost(price, input_tokens, output_tokens)


# ---------------------------------------------------------------------- reads (DB)

def load_price_book() -> PriceBook:
    """All provider prices; the table is small (models × price changes)."""
    rows = ModelPrice.objects.values_list(
        "provider", "model", "effective_from", "input_per_million", "output_per_million",
        "per_call",
    )
    return PriceBook.from_prices(Price(*row) for row in rows)


def unpriced_model_counts() -> list[dict]:
    """Models named by events that had no price, with how many events and customers.

    Served by the partial index ``event_unpriced_model`` (only unpriced rows are in it).
    """
    return list(
        Event.objects.filter(unpriced=True)
        .values("model")
        .annotate(events=Count("*"), customers=Count("customer_id", distinct=True),
                  first_seen=Min("timestamp"), last_seen=Max("timestamp"))
        .order_by("-events", "model")
    )


# ---------------------------------------------------------------------- writes

@transaction.atomic
def model_price_create(*, provider: str, model: str, effective_from: dt.datetime,
                       input_per_million: Decimal | str, output_per_million: Decimal | str,
                       per_call: Decimal | str = ZERO) -> ModelPrice:
    """A provider's price for ``model`` from ``effective_from`` on (a new row, never an edit:
    events already stored keep the cost they were given)."""
    values = {"input_per_million": Decimal(input_per_million),
              "output_per_million": Decimal(output_per_million), "per_call": Decimal(per_call)}
    errors = {name: ["A price cannot be negative."] for name, v in values.items() if v < 0}
    if errors:
        raise ValidationError(errors)
    price = ModelPrice(provider=provider, model=model, effective_from=effective_from, **values)
    price.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            price.save()
    except IntegrityError:
        raise ValidationError({"effective_from": [
            f"{provider}/{model} already has a price from {effective_from.isoformat()}."]}) from None
    return price
