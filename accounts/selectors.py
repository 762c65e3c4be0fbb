"""Reads shared by the API, the admin and the pages."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from accounts.models import Customer, Seat


def customer_get(*, external_id: str) -> Customer | None:
    return Customer.objects.filter(external_id=external_id).first()


def customer_list(*, include_archived: bool = True, search: str | None = None) -> QuerySet[Customer]:
    customers = Customer.objects.all()
    if not include_archived:
        customers = customers.filter(archived=False)
    if search:
        customers = customers.filter(
            Q(external_id__icontains=search) | Q(name__icontains=search) | Q(email__icontains=search)
        )
    return customers


def seats_overlapping(*, customer_id: int, start: dt.datetime, end: dt.datetime) -> QuerySet[Seat]:
    """Seats active at some moment of ``[start, end)``."""
    return Seat.objects.filter(customer_id=customer_id, active_from__lt=end).filter(
        Q(active_until__isnull=True) | Q(active_until__gt=start)
    )


def seats_active_at(*, customer_id: int, at: dt.datetime) -> QuerySet[Seat]:
    return Seat.objects.filter(customer_id=customer_id, active_from__lte=at).filter(
        Q(active_until__isnull=True) | Q(active_until__gt=at)
    )
