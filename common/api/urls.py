"""Routes under /api/v1 answer with and without a trailing slash.

Paths are written without one; ``api_path`` also accepts it, so a client that appends it
gets the same answer instead of a 404 (or a redirect that drops a body).
"""

from __future__ import annotations

from django.urls import path
from rest_framework.views import APIView


def api_path(route: str, view_class: type[APIView], name: str) -> list:
    """The route, plus its trailing-slash twin; only the canonical one is in the schema."""
    twin = type(view_class.__name__, (view_class,), {"schema": None})
    return [path(route, view_class.as_view(), name=name), path(f"{route}/", twin.as_view())]
