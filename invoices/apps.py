from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self) -> None:
        from invoices.stripe import checks  # noqa: F401  (registers billing.W010)
