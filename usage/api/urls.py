from common.api.urls import api_path
from usage.api.views import CustomerUsageView, EventIngestView

urlpatterns = [
    *api_path("events", EventIngestView, "events-ingest"),
    *api_path("customers/<str:external_id>/usage", CustomerUsageView, "customer-usage"),
]
