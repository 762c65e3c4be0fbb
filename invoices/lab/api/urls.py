"""Routes under /api/v1 for the pricing lab. Each part of the lab appends its own lines."""

from __future__ import annotations

from common.api.urls import api_path  # noqa: F401 (used by the lines below as they land)

urlpatterns: list = [
]
