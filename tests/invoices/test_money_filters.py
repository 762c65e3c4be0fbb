"""The template filters pages print numbers with: ``money`` as the API prints it,
``amount`` and ``quantity`` for people (symbol, thousands separators, no padding)."""

from decimal import Decimal

from django.template import Context, Template


def render(source: str, **context) -> str:
    return Template("{% load money %}" + source).render(Context(context))


def test_amount_is_money_for_people():
    assert render("{{ v|amount:'USD' }}", v=Decimal("1234.5")) == "$1,234.50"
    assert render("{{ v|amount:'JPY' }}", v=Decimal("4000")) == "¥4,000"
    assert render("{{ v|amount:'CHF' }}", v=Decimal("-12")) == "−12.00 CHF"
    assert render("{{ v|amount:'USD' }}", v=Decimal("0.000002")) == "$0.000002"
    assert render("{{ v|amount:'USD' }}", v=None) == ""


def test_quantity_groups_thousands_and_drops_trailing_zeros():
    assert render("{{ v|quantity }}", v=Decimal("1200.000000")) == "1,200"
    assert render("{{ v|quantity }}", v=Decimal("4.322581")) == "4.322581"
    assert render("{{ v|quantity }}", v=1234567) == "1,234,567"
    assert render("{{ v|quantity }}", v="") == ""


def test_money_keeps_the_apis_exact_string():
    assert render("{{ v|money:'USD' }}", v=Decimal("216.8")) == "216.80"
