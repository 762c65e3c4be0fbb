"""Serializers that refuse what they do not declare, and the one way views run them.

Input serializers check types only; the services own every business rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rest_framework import serializers

from common.api.fields import NUL_TEXT

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
