from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "accounts.outbound"
    label = "outbound"
    verbose_name = "Outbound webhooks"
