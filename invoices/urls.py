from django.urls import include, path

from invoices.views import invoice_page

urlpatterns = [
    path("", include("invoices.portal.urls")),
    path("invoices/<str:invoice_id>/", invoice_page, name="invoice-page"),
]
