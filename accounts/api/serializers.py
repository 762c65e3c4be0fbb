"""Shapes for customers and seats (SPEC sections 6 and 7).

Input serializers check types only; the services own every business rule. Reads and
writes use separate serializers so a client can never set a field the API only shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers

from accounts.api.fields import NUL_TEXT, BoundedDateTimeField
from accounts.models import Customer, Seat

UNKNOWN_FIELD = "Unknown field."
READ_ONLY_FIELD = "This field is read-only."


def has_nul(value: Any) -> bool:
    """True if any text in ``value`` (keys included) holds a NUL, which PostgreSQL refuses."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(has_nul(key) or has_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


# Refuses fields it does not declare, naming each one: a misspelt ``seat_prise``
# silently ignored would bill the wrong price, so an unknown key is a 400 like any
# other bad input. Text with NUL is refused too (PostgreSQL cannot store it, even in
# JSON). A comment, not a docstring: the schema would show a docstring on every body.
class StrictSerializer(serializers.Serializer):

    # Better messages for fields a client plausibly sends but may not set here.
    refused_fields: ClassVar[dict[str, str]] = {}
    # Fields the read shape carries, so echoing a resource back gets a precise message.
    read_only_names: ClassVar[frozenset[str]] = frozenset()

    def _key_errors(self, data: Any) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors = {}
        for name in data:
            if name in writable:
                if has_nul(data[name]):
                    errors[name] = [NUL_TEXT]
            elif name in self.refused_fields:
                errors[name] = [self.refused_fields[name]]
            elif name in self.read_only_names:
                errors[name] = [READ_ONLY_FIELD]
            else:
                errors[name] = [UNKNOWN_FIELD]
        return errors

    def to_internal_value(self, data: Any) -> Any:
        unknown = self._key_errors(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def validated_data(serializer_class: type[serializers.Serializer], data: Any,
                   **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


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
