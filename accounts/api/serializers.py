"""Shapes for customers and seats (SPEC sections 6 and 7).

Input serializers check types only; the services own every business rule. Reads and
writes use separate serializers so a client can never set a field the API only shows.
"""

from __future__ import annotations

from typing import ClassVar

from rest_framework import serializers

from accounts.models import Customer, Seat
from common.api.fields import BoundedDateTimeField
from common.api.serializers import StrictSerializer

# --- customers -------------------------------------------------------------------------

class CustomerSerializer(serializers.Serializer):
    external_id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    currency = serializers.CharField(read_only=True)
    archived = serializers.BooleanField(read_only=True)
    stripe_customer_id = serializers.CharField(read_only=True)
    created_at = BoundedDateTimeField(read_only=True)
    updated_at = BoundedDateTimeField(read_only=True)


CUSTOMER_READ_ONLY = frozenset(CustomerSerializer().fields)


class CustomerCreateSerializer(StrictSerializer):
    read_only_names = CUSTOMER_READ_ONLY

    external_id = serializers.CharField(max_length=Customer._meta.get_field("external_id").max_length)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField()
    currency = serializers.CharField(max_length=3, required=False,
                                     help_text="ISO 4217 code; default USD. Fixed once a contract exists.")
    stripe_customer_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    archived = serializers.BooleanField(required=False)


class CustomerUpdateSerializer(CustomerCreateSerializer):
    external_id = None
    refused_fields: ClassVar[dict[str, str]] = {
        "external_id": "external_id cannot be changed: it names the customer in every path "
                       "and usage event.",
    }


# --- seats -----------------------------------------------------------------------------

class SeatSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    customer = serializers.CharField(source="customer.external_id", read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    active_from = BoundedDateTimeField(read_only=True)
    active_until = BoundedDateTimeField(read_only=True, allow_null=True)
    created_at = BoundedDateTimeField(read_only=True)
    updated_at = BoundedDateTimeField(read_only=True)


class SeatWriteSerializer(StrictSerializer):
    read_only_names = frozenset(SeatSerializer().fields)
    refused_fields: ClassVar[dict[str, str]] = {
        "customer": "A seat cannot move to another customer.",
    }

    email = serializers.EmailField(max_length=Seat._meta.get_field("email").max_length)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active_from = BoundedDateTimeField()
    active_until = BoundedDateTimeField(required=False, allow_null=True,
                                             help_text="Empty or null: still active.")
