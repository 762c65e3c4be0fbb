from django.urls import path

from invoices.stripe.views import stripe_webhook

app_name = "stripe"

urlpatterns = [
    path("webhook/", stripe_webhook, name="webhook"),
]
