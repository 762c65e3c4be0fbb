"""Login lockout for the admin and the customer login, built on django-axes.

axes records failed logins in the database (``axes.AccessAttempt``) and, once one
username has failed ``AXES_FAILURE_LIMIT`` times from one IP address, refuses that pair
for ``AXES_COOLOFF_TIME`` (settings.py; the choices are in docs/operations.md). This
module is the project's edge around it: the authentication backend, the client address,
the locked-out page and the unlock that ops run from the admin.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

LOCKED_OUT_TEMPLATE = "registration/locked_out.html"


class LoginLockoutBackend(AxesStandaloneBackend):
    """axes' lockout check, for logins that arrive over HTTP.

    axes refuses ``authenticate()`` without a request (a ValueError). Without one there
    is no remote client to throttle: the shell, a management command or the test
    client's ``login()``. Every login form (the admin's and ``/accounts/login/``) passes
    its request, so every password typed into a page is counted.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The address a lockout is recorded against.

    ``LOGIN_CLIENT_IP_HEADER`` names a header that the proxy in front overwrites with the
    peer's address; a value that is not an IP address (a client reaching gunicorn
    directly could send anything) falls back to the socket's address, since the
    database column only stores addresses.
    """
    header = settings.LOGIN_CLIENT_IP_HEADER.strip()
    if header:
        forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_"), "").strip()
        if _is_ip(forwarded):
            return forwarded
    remote = request.META.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else None


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def locked_out_response(request: HttpRequest, original_response=None,
                        credentials: dict | None = None) -> HttpResponse:
    """429 with the locked-out page; Retry-After is the cool-off.

    The cool-off restarts with every refused try (axes' default), so from the answer to
    a refused try it is exactly the whole cool-off.
    """
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    context = {
        "username": get_client_username(request, credentials) or "",
        "failure_limit": get_failure_limit(request, credentials),
        "cooloff_minutes": minutes,
        "login_path": request.path,
        "is_admin_login": request.path.startswith("/admin/"),
    }
    response = TemplateResponse(request, LOCKED_OUT_TEMPLATE, context,
                                status=settings.AXES_HTTP_RESPONSE_CODE)
    if cool_off:
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response.render()


def login_attempts_unlock(*, attempt_ids: Iterable[int]) -> int:
    """Forget the failed logins of these (username, address) records: they may log in again.

    Returns how many records were removed.
    """
    with transaction.atomic():
        _, per_model = AccessAttempt.objects.filter(pk__in=list(attempt_ids)).delete()
    return per_model.get(AccessAttempt._meta.label, 0)
