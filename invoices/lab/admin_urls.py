"""The lab's pages, mounted at /admin/lab/ (billing_site/urls.py) ahead of the admin site."""

from django.urls import path

from invoices.lab import migration_admin, pricing_admin

app_name = "lab"

urlpatterns = [
    path("archetypes/", pricing_admin.archetypes_page, name="archetypes"),
    path("archetypes/draft/", pricing_admin.draft_from_recommendation, name="draft"),
    path("estimates/", pricing_admin.estimates_page, name="estimates"),
    path("migrations/", migration_admin.migration_planning_page, name="migrations"),
]
