from django.urls import include, path

# The invoice page is the portal's (invoices/portal/invoices.py); staff open it too.
urlpatterns = [
    path("", include("invoices.portal.urls")),
]
