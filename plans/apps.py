from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Plans and contracts"

    def ready(self) -> None:
        # accounts sits below plans and cannot ask it; plans tells accounts instead.
        from accounts.services import register_currency_lock
        from plans.selectors import customer_currency_lock

        register_currency_lock(customer_currency_lock)
