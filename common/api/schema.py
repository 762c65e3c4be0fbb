"""The OpenAPI schema's error responses, derived once from what each view really does.

Every API error has one body, the ``Error`` component (common/api/errors.py builds it).
Which 4xx an operation can give follows from the view itself, so a new route is
documented right without repeating a list of codes on every decorator:

- 400 when the operation reads a body or query parameters;
- 415 when it parses a JSON body with DRF (any other content type is refused);
- 401 when it needs an API key, 403 when some key scope may not use it;
- 404 when its path names a resource;
- 429 when a throttle applies to it.

Codes a view declares itself (409, 413, or a 404 with a better description) win; a
declared error without a body gets the ``Error`` body.

Request bodies say what the serializers check, so a client (or schemathesis) that
follows the schema is not refused: strict serializers refuse unknown keys
(``additionalProperties: false``), and decimals state their digits and bounds.
"""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from common.api.serializers import StrictSerializer

BODY_METHODS = ("POST", "PUT", "PATCH")


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in a sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Each field at fault (nested ones by path, e.g. `charges[0].unit_price`, "
                  "or `events[3].timestamp`) and its messages.",
    )


def _example(code: int, value: dict) -> list[OpenApiExample]:
    return [OpenApiExample(f"{code}", value=value, status_codes=[str(code)], response_only=True)]


ERRORS: dict[int, tuple[str, dict]] = {
    400: ("Invalid input: `errors` names every bad field; nothing was written.",
          {"detail": "Invalid input.", "errors": {"email": ["Enter a valid email address."]}}),
    401: ("Missing, unknown or revoked API key (`Authorization: Bearer <key>`).",
          {"detail": "An API key is required: 'Authorization: Bearer <key>'."}),
    403: ("The key's scope does not allow this route: ingest-scope keys may only send events.",
          {"detail": "A ingest-scope key cannot use this route; it needs an admin key."}),
    404: ("No such resource; `detail` says which.",
          {"detail": "No customer with external_id 'acme'."}),
    409: ("The resource's state forbids this change; `errors` names the field.",
          {"detail": "Version 1 of team is published and cannot change.",
           "errors": {"status": ["Version 1 of team is published and cannot change."]}}),
    413: ("The body is too large; send smaller batches.",
          {"detail": "The body is larger than 1,048,576 bytes; send smaller batches.",
           "errors": {"body": ["The body is larger than 1,048,576 bytes; send smaller batches."]}}),
    415: ("The body must be JSON: send `Content-Type: application/json`.",
          {"detail": 'Unsupported media type "text/plain" in request.'}),
    429: ("Too many requests with this key: retry after `Retry-After` seconds.",
          {"detail": "Request was throttled. Expected available in 12 seconds."}),
    503: ("A service the request needs (the task queue) is down; try again later.",
          {"detail": "The billing run could not be queued (the task queue is unavailable); "
                     "try again later."}),
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"},
                               "description": "Seconds to wait before the next request."}}


def request_example(name: str, value: dict, *, summary: str | None = None,
                    description: str | None = None) -> OpenApiExample:
    return OpenApiExample(name, value=value, summary=summary, description=description,
                          request_only=True)


def response_example(name: str, value: dict, *, status: int = 200,
                     summary: str | None = None) -> OpenApiExample:
    """One resource; drf-spectacular wraps it in the page shape for list operations."""
    return OpenApiExample(name, value=value, summary=summary, response_only=True,
                          status_codes=[str(status)])


def _number(value: Decimal | int) -> int | float:
    return int(value) if value == int(value) else float(value)


def decimal_limits(field: serializers.DecimalField) -> tuple[dict, dict]:
    """What DRF checks of a decimal, as a pattern for its text and bounds for its number.

    Digits before the point are at most ``max_digits - decimal_places``; the places after
    it are a pattern only (a JSON number cannot say how many places it has).
    """
    text: dict = {}
    number: dict = {}
    unsigned = field.min_value is not None and field.min_value >= 0
    if field.max_digits is not None and field.decimal_places is not None:
        whole = field.max_digits - field.decimal_places
        if whole >= 1:
            # [0-9], not \d: Python's \d takes any script's digits.
            fraction = rf"(?:\.[0-9]{{1,{field.decimal_places}}})?" if field.decimal_places else ""
            text["pattern"] = rf"^{'' if unsigned else '-?'}[0-9]{{1,{whole}}}{fraction}$"
            number.update(maximum=10**whole, exclusiveMaximum=True)
            if not unsigned:
                number.update(minimum=-(10**whole), exclusiveMinimum=True)
    if field.max_value is not None:
        number.update(maximum=_number(field.max_value))
        number.pop("exclusiveMaximum", None)
    if field.min_value is not None:
        number.update(minimum=_number(field.min_value))
        number.pop("exclusiveMinimum", None)
    return text, number


def error_response(code: int, description: str | None = None) -> OpenApiResponse:
    """The ``Error`` body for ``code``, for views that declare an error code themselves."""
    default_description, value = ERRORS.get(code, ("Error.", {"detail": "Error."}))
    return OpenApiResponse(ErrorSerializer, description=description or default_description,
                           examples=_example(code, value))


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self.error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(
                    error_response(code), str(code), direction=direction)
        for code, response in responses.items():
            if int(code) >= 400 and "content" not in response:
                with_body = error_response(int(code), response.get("description"))
                responses[code] = self._get_response_for_code(with_body, code, direction=direction)
        if "429" in responses:
            responses["429"].setdefault("headers", {}).update(RETRY_AFTER)
        return dict(sorted(responses.items()))

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if not body:
            return body
        serializer = self.get_request_serializer()
        if isinstance(serializer, dict):
            serializer = next(iter(serializer.values()), None)
        if isinstance(serializer, PolymorphicProxySerializer):
            # One of several shapes (POST /events: an event or a batch), each with required
            # fields: drf-spectacular reads `required` off the oneOf, which has none.
            body["required"] = True
        return body

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (direction == "request" and isinstance(field, serializers.DecimalField)
                and schema and schema.get("format") == "decimal"):
            # Amounts and quantities read a JSON number as well as a decimal string (SPEC
            # section 7 sends "included_per_seat": 1000); answers always carry strings.
            text = {key: schema.pop(key) for key in ("type", "format", "pattern") if key in schema}
            text_limits, number_limits = decimal_limits(field)
            schema["oneOf"] = [{**text, **text_limits}, {"type": "number", **number_limits}]
        return schema

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False  # it answers 400 naming each unknown key
        return schema

    def error_codes(self) -> list[int]:
        codes = []
        if self._reads_input():
            codes.append(400)
        if (self.method in BODY_METHODS and self.view.get_parsers()
                and self.get_request_serializer() is not None):
            codes.append(415)
        # Key-scope permissions (accounts/api/auth.py) say which scopes they let in, out of
        # every scope there is.
        scoped = [p for p in self.view.get_permissions() if getattr(p, "scopes", None)]
        if scoped:
            codes.append(401)
            if any(set(getattr(p, "every_scope", ())) - set(p.scopes) for p in scoped):
                codes.append(403)
        if "{" in self.path:
            codes.append(404)
        if self.view.get_throttles():
            codes.append(429)
        return codes

    def _reads_input(self) -> bool:
        if self.method in BODY_METHODS and self.get_request_serializer() is not None:
            return True
        return any(parameter["in"] == "query" for parameter in self._get_parameters())
