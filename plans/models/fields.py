"""Decimal field shapes shared by the catalog and contracts."""

from django.db import models


def price_field(**kwargs) -> models.DecimalField:
    """Money and unit prices: up to 10 decimal places (SPEC section 2)."""
    return models.DecimalField(max_digits=28, decimal_places=10, **kwargs)


def quantity_field(**kwargs) -> models.DecimalField:
    """Unit counts such as allowances and tier bounds."""
    return models.DecimalField(max_digits=28, decimal_places=6, **kwargs)
