from django.urls import path

from usage.api.views import CustomerUsageView, EventIngestView

urlpatterns = [
    path("events", EventIngestView.as_view(), name="events-ingest"),
    path("customers/<str:external_id>/usage", CustomerUsageView.as_view(), name="customer-usage"),
]
