from django.urls import path

from invoices.views import customer_home, invoice_page

urlpatterns = [
    path("", customer_home, name="home"),
    path("invoices/<str:invoice_id>/", invoice_page, name="invoice-page"),
]
