"""The paginator of every list route: ``?limit=`` (1–1,000, default ``PAGE_SIZE``) and
``?offset=`` (0–2**31-1).

DRF's ``LimitOffsetPagination`` has no ``max_limit`` by default and quietly falls back
to the default for a limit it cannot read; a limit past what SQL takes
(``9223372036854775808``) reached the database and answered 500. Here a limit or
offset that is not a whole number in range is a 400 naming it, like any other bad input.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.settings import api_settings

from common.bounds import MAX_INTEGER

MAX_PAGE_LIMIT = 1000


def query_integer(request: Request, name: str, *, minimum: int, maximum: int,
                  default: int) -> int:
    """The query parameter ``name`` as a whole number in range; absent or empty: ``default``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    # isdigit() is also true of other scripts' digits, which int() reads; only ASCII here.
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        value = None
    else:
        value = int(text)
    if value is None or not minimum <= value <= maximum:
        raise serializers.ValidationError(
            {name: [f"Use a whole number from {minimum} to {maximum}."]}
        )
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_PAGE_LIMIT
    max_offset = MAX_INTEGER

    default_limit = min(api_settings.PAGE_SIZE or 100, MAX_PAGE_LIMIT)

    def get_limit(self, request: Request) -> int:
        return query_integer(request, self.limit_query_param, minimum=1, maximum=self.max_limit,
                             default=self.default_limit)

    def get_offset(self, request: Request) -> int:
        return query_integer(request, self.offset_query_param, minimum=0,
                             maximum=self.max_offset, default=0)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit,
                                     "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
