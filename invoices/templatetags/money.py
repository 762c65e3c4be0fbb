from django import template

from invoices.rating.money import round_money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """An amount in its currency's minor units: ``216.80`` USD, ``4000`` JPY."""
    if amount is None or amount == "":
        return ""
    return f"{round_money(amount, currency)}"
