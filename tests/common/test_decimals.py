"""One way to drop a column's padding and to print a decimal: plain strings, no false
precision, never an exponent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.decimals import format_decimal, format_money, tidy


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (D("40"), "USD", "40.00"),
        (D("40.0000000000"), "USD", "40.00"),
        (D("0E-10"), "USD", "0.00"),
        (D("0.05"), "USD", "0.05"),
        (D("0.0000020000"), "USD", "0.000002"),
        (D("172.9"), "EUR", "172.90"),
        (D("4000.0000000000"), "JPY", "4000"),
        (D("0.5"), "JPY", "0.5"),
        (D("40"), "KWD", "40.000"),
        (D("40"), None, "40.00"),
        (D("1E+3"), "USD", "1000.00"),
        (D("-12.5"), "USD", "-12.50"),
        (D("1234567890123456.1234567891"), "USD", "1234567890123456.1234567891"),
    ],
)
def test_money_shows_minor_units_and_only_significant_extra_places(value, currency, text):
    assert format_money(value, currency=currency) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(D("1000.000000"), "1000"), (D("0.500000"), "0.5"), (D("1E+6"), "1000000"), (D(0), "0")],
)
def test_quantities_have_no_padding(value, text):
    assert format_decimal(value) == text


def test_tidy_drops_column_padding_but_keeps_money_places():
    assert str(tidy(D("0.0500000000"))) == "0.05"
    assert str(tidy(D("40.0000000000"), 2)) == "40.00"
    assert str(tidy(D("1000.000000"))) == "1000"
    assert str(tidy(D("0.0000020000"))) == "0.000002"
    assert str(tidy(D("1000.000000000000"))) == "1000"  # a numeric(38, 12) sum, not 1E+3
    assert str(tidy(D("12345678901234567890123456.000000000000"))) == (
        "12345678901234567890123456")  # wider than the default 28-digit context


@given(st.decimals(min_value=D("-1e17"), max_value=D("1e17"), places=10, allow_nan=False,
                   allow_infinity=False))
def test_money_text_is_the_same_number_with_at_least_two_places(value):
    text = format_money(value, currency="USD")
    assert D(text) == value
    assert "E" not in text
    assert len(text.split(".")[1]) >= 2
