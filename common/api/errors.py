"""One error shape for every 4xx, and JSON for every error under /api/.

Errors are ``{"errors": {field: [messages]}, "detail": "..."}`` so a client can
always find the field that was wrong. Django ``ValidationError`` raised by a
service (the single source of business rules) becomes a 400 the same way a
serializer error does. A failure nobody foresaw is logged with a reference and
answered ``{"detail": "Internal error ..."}`` with a 500, never an HTML page.
"""

from __future__ import annotations

import logging
import uuid

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.common import no_append_slash
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request, page_not_found, permission_denied
from django.views.defaults import server_error as django_server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)
API_PREFIX = "/api/"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def django_errors_to_dict(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for e in errs for m in e.messages] for field, errs in error.error_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


def flatten_errors(data, prefix: str = "") -> dict[str, list[str]]:
    """DRF nests errors for lists and nested serializers (``{"customers": {"0": [...]}}``);
    the documented shape is one level, field path to messages, so a client reads
    ``customers[0]`` or ``charges[1].tiers[0].up_to`` without walking a tree."""
    if isinstance(data, dict):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            name = f"{prefix}[{key}]" if prefix and str(key).isdigit() else (
                f"{prefix}.{key}" if prefix else str(key))
            flat.update(flatten_errors(value, name))
        return flat
    if isinstance(data, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in data):
            return {prefix or "non_field_errors": [str(item) for item in data]} if data else {}
        flat = {}
        for index, item in enumerate(data):
            flat.update(flatten_errors(item, f"{prefix}[{index}]"))
        return flat
    return {prefix or "non_field_errors": [str(data)]}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_errors_to_dict(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return _unexpected(exc, context)
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "errors": flatten_errors(data)}
    elif isinstance(exc, Http404 | exceptions.NotFound):
        response.data = {"detail": str(data.get("detail", "Not found.")) if isinstance(data, dict) else "Not found."}
    return response


def validation_error(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def conflict(field: str, message: str) -> Response:
    return Response({"detail": message, "errors": {field: [message]}}, status=status.HTTP_409_CONFLICT)


def _unexpected(exc, context) -> Response:
    # Django refuses these before a view could; inside a DRF view they would be a 500.
    if isinstance(exc, RequestDataTooBig):
        message = "The request body is too large."
        return Response({"detail": message, "errors": {"body": [message]}},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):
        return Response({"detail": "Bad request."}, status=status.HTTP_400_BAD_REQUEST)
    # JSON even with DEBUG on: API clients parse the body; the traceback goes to the log.
    set_rollback()
    request = context.get("request")
    reference = uuid.uuid4().hex[:12]
    logger.error("Internal error %s on %s %s", reference, getattr(request, "method", "?"),
                 getattr(request, "path", "?"), exc_info=exc)
    return Response({"detail": internal_error_detail(reference)},
                    status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def internal_error_detail(reference: str | None = None) -> str:
    where = f" (reference {reference})" if reference else ""
    return f"Internal error{where}: the server could not answer this request; it has been logged."


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


# Django's handlers (named in billing_site/urls.py): JSON under /api/, Django's pages elsewhere.


def not_found(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": f"No API route {request.path}."}, status=404)
    # templates/404.html says what to do (go back to the dashboard, log in as someone else).
    return page_not_found(request, exception, template_name="404.html")


def server_error(request):
    # Django has logged the exception (django.request) before calling this.
    if is_api(request):
        return JsonResponse({"detail": internal_error_detail()}, status=500)
    return django_server_error(request)


def bad_request_error(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return bad_request(request, exception)


def permission_denied_error(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Permission denied."}, status=403)
    return permission_denied(request, exception, template_name="403.html")


def csrf_failure(request, reason: str = ""):
    """``CSRF_FAILURE_VIEW``: a form posted without its token (or with a stale one) gets a
    page that says how to send it again, on the site's look; JSON under /api/."""
    if is_api(request):
        return JsonResponse({"detail": f"CSRF check failed: {reason}"}, status=403)
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


@csrf_exempt
@no_append_slash
def unknown_api_route(request, *args, **kwargs):
    """Every path under /api/ that no route matched, whatever the method and DEBUG.

    Routed last under /api/ (rather than left to handler404, which DEBUG replaces with
    Django's HTML page); ``no_append_slash`` keeps CommonMiddleware from redirecting
    ``/api/v1/nope`` to ``/api/v1/nope/`` first.
    """
    return not_found(request)
