from django.urls import path

from invoices.views import invoice_page

urlpatterns = [
    path("invoices/<str:invoice_id>/", invoice_page, name="invoice-page"),
]
