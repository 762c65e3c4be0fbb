"""Money and quantities render as plain decimal strings with no false precision."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.api.fields import format_decimal, format_money


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


@given(st.decimals(min_value=D("-1e17"), max_value=D("1e17"), places=10, allow_nan=False,
                   allow_infinity=False))
def test_money_text_is_the_same_number_with_at_least_two_places(value):
    text = format_money(value, currency="USD")
    assert D(text) == value
    assert "E" not in text
    assert len(text.split(".")[1]) >= 2
