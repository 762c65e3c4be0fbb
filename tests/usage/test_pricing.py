"""Provider cost: the pure price book (no database) and its use at ingest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import CustomerFactory, ModelPriceFactory
from usage.ingest import ingest_events
from usage.models import Event
from usage.pricing import (
    Price,
    PriceBook,
    cost_for,
    load_price_book,
    price_cost,
    unpriced_model_counts,
)

JAN = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
NOV_15 = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
D = Decimal


def price(model="gpt-4.1-mini", provider="openai", effective_from=JAN, inp="0.40", out="1.60",
          per_call="0") -> Price:
    return Price(provider=provider, model=model, effective_from=effective_from,
                 input_per_million=D(inp), output_per_million=D(out), per_call=D(per_call))


BOOK = PriceBook.from_prices([
    price(),
    # A price cut effective mid-month.
    price(effective_from=NOV_15, inp="0.20", out="0.80"),
    price(model="claude-sonnet-4", provider="anthropic", inp="3", out="15", per_call="0.001"),
    price(model="shared", provider="azure", inp="1", out="1"),
    price(model="shared", provider="openai", inp="2", out="2",
          effective_from=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)),
])


def test_cost_is_tokens_times_price_per_million_plus_per_call():
    cost = cost_for(BOOK, "claude-sonnet-4", None, 1200, 300, JAN)
    # 1200 × 3 / 1e6 + 300 × 15 / 1e6 + 0.001
    assert cost == D("0.0036") + D("0.0045") + D("0.001")
    assert isinstance(cost, Decimal)


def test_event_before_a_mid_month_price_change_uses_the_old_price():
    just_before = NOV_15 - dt.timedelta(microseconds=1)
    assert cost_for(BOOK, "gpt-4.1-mini", None, 1_000_000, 1_000_000, just_before) == D("2.00")
    assert cost_for(BOOK, "gpt-4.1-mini", None, 1_000_000, 1_000_000, NOV_15) == D("1.00")
    assert cost_for(BOOK, "gpt-4.1-mini", None, 1_000_000, 0, NOV_15 + dt.timedelta(days=10)) \
        == D("0.20")


def test_unknown_model_or_time_before_any_price_has_no_cost():
    assert cost_for(BOOK, "llama-3-70b", None, 10, 10, NOV_15) is None
    assert cost_for(BOOK, "gpt-4.1-mini", None, 10, 10, JAN - dt.timedelta(seconds=1)) is None


def test_provider_narrows_the_match_when_given():
    assert cost_for(BOOK, "shared", "azure", 1_000_000, 0, NOV_15) == D("1")
    assert cost_for(BOOK, "shared", "openai", 1_000_000, 0, NOV_15) == D("2")
    assert cost_for(BOOK, "shared", "openai", 1_000_000, 0, JAN) is None  # not yet priced
    assert cost_for(BOOK, "gpt-4.1-mini", "anthropic", 10, 10, NOV_15) is None


def test_without_provider_the_most_recently_effective_price_wins():
    assert cost_for(BOOK, "shared", None, 1_000_000, 0, dt.datetime(2026, 3, 1, tzinfo=dt.UTC)) \
        == D("1")
    assert cost_for(BOOK, "shared", None, 1_000_000, 0, NOV_15) == D("2")


def test_cost_keeps_twelve_places_rounding_half_up():
    book = PriceBook.from_prices([price(inp="0.0000015", out="0")])
    # 1 × 0.0000015 / 1e6 = 0.0000000000015 → 0.000000000002 at 12 places
    assert cost_for(book, "gpt-4.1-mini", None, 1, 0, NOV_15) == D("0.000000000002")


def test_huge_token_counts_stay_exact_beyond_28_digits():
    book = PriceBook.from_prices([price(inp="1.2345678901", out="0")])
    # (1e20 + 1) × 1.2345678901 / 1e6 = 123456789010000.0000012345678901, 31 digits
    assert cost_for(book, "gpt-4.1-mini", None, 10**20 + 1, 0, NOV_15) \
        == D("123456789010000.000001234568")


def test_float_token_counts_are_read_as_written():
    assert cost_for(BOOK, "gpt-4.1-mini", None, 1.1, 0, JAN) == D("0.00000044")


@given(inp=st.integers(0, 10**9), out=st.integers(0, 10**9))
def test_cost_is_additive_in_input_and_output(inp, out):
    both = cost_for(BOOK, "gpt-4.1-mini", None, inp, out, NOV_15)
    alone = cost_for(BOOK, "gpt-4.1-mini", None, inp, 0, NOV_15) \
        + cost_for(BOOK, "gpt-4.1-mini", None, 0, out, NOV_15)
    assert both == alone >= 0


_prices = st.decimals(min_value=0, max_value=10**6, places=10, allow_nan=False,
                      allow_infinity=False)


@given(inp=_prices, out=_prices, per_call=_prices, tokens_in=st.integers(0, 10**15),
       tokens_out=st.integers(0, 10**15))
def test_integer_fast_path_equals_decimal_arithmetic(inp, out, per_call, tokens_in, tokens_out):
    p = Price("p", "m", JAN, inp, out, per_call)
    assert p.scaled is not None
    # Decimal token counts take the Decimal path.
    assert price_cost(p, tokens_in, tokens_out) == price_cost(p, D(tokens_in), D(tokens_out))


def test_prices_with_more_than_ten_places_use_the_decimal_path():
    p = Price("p", "m", JAN, D("0.00000000001"), D(0), D(0))
    assert p.scaled is None
    assert price_cost(p, 10**6, 0) == D("0.000000000010")


# ------------------------------------------------------------------ with the database

@pytest.mark.django_db
def test_load_price_book_reads_every_model_price():
    ModelPriceFactory()
    ModelPriceFactory(effective_from=NOV_15, input_per_million="0.20", output_per_million="0.80")
    book = load_price_book()
    assert book.price_at("gpt-4.1-mini", "openai", NOV_15).input_per_million == D("0.20")
    assert book.price_at("gpt-4.1-mini", None, NOV_15 - dt.timedelta(seconds=1)) \
        .input_per_million == D("0.40")


def _ai_call(tid, stamp, model="gpt-4.1-mini", **props):
    return {"transaction_id": tid, "customer": "acme", "event_type": "ai.call",
            "timestamp": stamp, "properties": {"model": model, "input_tokens": 1_000_000,
                                               "output_tokens": 1_000_000, **props}}


@pytest.mark.django_db
def test_ingest_prices_each_event_at_its_own_timestamp():
    CustomerFactory(external_id="acme")
    ModelPriceFactory()
    ModelPriceFactory(effective_from=NOV_15, input_per_million="0.20", output_per_million="0.80")
    result = ingest_events(events=[
        _ai_call("before", "2026-11-14T23:59:59.999999Z"),
        _ai_call("at", "2026-11-15T00:00:00Z"),
        _ai_call("azure", "2026-11-15T00:00:00Z", provider="azure"),
    ], now=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert result.accepted == 3
    stored = {e.transaction_id: (e.provider_cost, e.unpriced) for e in Event.objects.all()}
    assert stored == {"before": (D("2.00"), False), "at": (D("1.00"), False),
                      "azure": (D("0"), True)}  # no azure price for this model


@pytest.mark.django_db
def test_unknown_model_is_accepted_flagged_and_listed():
    CustomerFactory(external_id="acme")
    CustomerFactory(external_id="globex")
    ModelPriceFactory()
    events = [_ai_call("a", "2026-11-15T01:00:00Z", model="llama-3-70b"),
              _ai_call("b", "2026-11-15T02:00:00Z", model="llama-3-70b"),
              {**_ai_call("c", "2026-11-15T03:00:00Z", model="llama-3-70b"), "customer": "globex"},
              _ai_call("d", "2026-11-15T03:00:00Z", model="mystery"),
              {**_ai_call("e", "2026-11-15T03:00:00Z"), "properties": {"input_tokens": 5}},
              _ai_call("priced", "2026-11-15T03:00:00Z")]
    result = ingest_events(events=events, now=dt.datetime(2026, 11, 16, tzinfo=dt.UTC))
    assert result.accepted == 6
    flagged = Event.objects.filter(unpriced=True)
    assert sorted(flagged.values_list("transaction_id", flat=True)) == ["a", "b", "c", "d", "e"]
    assert set(flagged.values_list("provider_cost", flat=True)) == {D("0")}
    counts = unpriced_model_counts()
    assert [(row["model"], row["events"], row["customers"]) for row in counts] == [
        ("llama-3-70b", 3, 2), ("", 1, 1), ("mystery", 1, 1)]
    assert counts[0]["first_seen"] == dt.datetime(2026, 11, 15, 1, tzinfo=dt.UTC)
