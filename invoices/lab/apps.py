from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "invoices.lab"
    label = "lab"
    verbose_name = "Pricing lab"
