"""Shared API plumbing: one error shape for every 4xx.

Errors are ``{"errors": {field: [messages]}, "detail": "..."}`` so a client can
always find the field that was wrong. Django ``ValidationError`` raised by a
service (the single source of business rules) becomes a 400 the same way a
serializer error does.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def django_errors_to_dict(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for e in errs for m in e.messages] for field, errs in error.error_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_errors_to_dict(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        if isinstance(data, list):
            data = {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": data}
    elif isinstance(exc, Http404 | exceptions.NotFound):
        response.data = {"detail": str(data.get("detail", "Not found.")) if isinstance(data, dict) else "Not found."}
    return response


def validation_error(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def conflict(field: str, message: str) -> Response:
    return Response({"detail": message, "errors": {field: [message]}}, status=status.HTTP_409_CONFLICT)


def not_found(request, exception=None):
    """404 for unknown URLs: JSON under /api/, Django's page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"No API route {request.path}."}, status=404)
    return page_not_found(request, exception)
