from django.apps import AppConfig


class BillingSiteConfig(AppConfig):
    name = "billing_site"
    verbose_name = "Billing site"

    def ready(self) -> None:
        from billing_site import checks  # noqa: F401  (registers the system check)
