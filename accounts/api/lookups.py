"""The customer a path or a query string names, for every app's API views.

A path naming an unknown customer is a 404; a filter naming one is a 400 (it is input,
not the resource the path names).
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

from accounts.models import Customer
from accounts.selectors import customer_get
from common.api.fields import query_text
from common.api.serializers import has_nul


def query_customer(request: Request, name: str = "customer") -> Customer | None:
    """The customer a list is filtered by, if any; an unknown one is a 400 naming the filter.

    A query parameter is input, not the resource the path names, so it is never a 404.
    """
    external_id = query_text(request, name)
    if external_id is None:
        return None
    customer = customer_get(external_id=external_id)
    if customer is None:
        raise serializers.ValidationError(
            {name: [f"No customer with external_id {external_id!r}."]})
    return customer


def get_customer_or_404(external_id: str) -> Customer:
    customer = None if has_nul(external_id) else customer_get(external_id=external_id)
    if customer is None:
        raise NotFound(f"No customer with external_id {external_id!r}.")
    return customer
