from django import template

from common.decimals import format_money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """An amount as the API prints it: ``216.80`` USD, ``4000`` JPY."""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency=currency)
