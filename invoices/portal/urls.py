from django.urls import path

from invoices.views import customer_home

# Every customer-facing URL is here (tests/pages walk them as another customer's user).
urlpatterns = [
    path("", customer_home, name="home"),
]
