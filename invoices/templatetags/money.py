from django import template

from common.decimals import format_money
from invoices.portal import wording

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """An amount as the API prints it: ``216.80`` USD, ``4000`` JPY."""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency=currency)


@register.filter
def amount(value, currency: str) -> str:
    """Money for people: ``1234.5`` USD → ``$1,234.50`` (``invoices.portal.wording.money``)."""
    if value is None or value == "":
        return ""
    return wording.money(value, currency)


@register.filter
def quantity(value) -> str:
    """A quantity for people: ``1200.000000`` → ``1,200`` (``invoices.portal.wording.quantity``)."""
    if value is None or value == "":
        return ""
    return wording.quantity(value)
