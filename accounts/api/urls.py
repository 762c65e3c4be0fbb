"""Routes under /api/v1 for customers and seats."""

from __future__ import annotations

from accounts.api import views
from common.api.urls import api_path

urlpatterns = [
    *api_path("customers", views.CustomerListView, "customer-list"),
    *api_path("customers/<str:external_id>", views.CustomerDetailView, "customer-detail"),
    *api_path("customers/<str:external_id>/seats", views.SeatListView, "seat-list"),
    *api_path("customers/<str:external_id>/seats/<int:seat_id>", views.SeatDetailView,
              "seat-detail"),
]
