from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "invoices.alerts"
    label = "alerts"
    verbose_name = "Usage alerts"
