"""The ops views, mounted at /admin/ops/ (billing_site/urls.py) ahead of the admin site."""

from django.urls import path

from invoices.ops import views

app_name = "ops"

urlpatterns = [
    path("margins/", views.margin_report, name="margins"),
    path("customers/<int:customer_id>/", views.customer_report, name="customer"),
]
