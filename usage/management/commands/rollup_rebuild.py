from django.core.management.base import BaseCommand

from accounts.selectors import customer_get
from usage.rollups import rollup_rebuild


class Command(BaseCommand):
    help = "Recompute hourly usage rollups from raw events (after adding or editing a metric)."

    def add_arguments(self, parser):
        parser.add_argument("--customer", help="external_id of one customer (default: all)")

    def handle(self, *args, **options):
        customer_id = None
        if options["customer"]:
            customer = customer_get(external_id=options["customer"])
            if customer is None:
                self.stderr.write(f"No customer {options['customer']!r}.")
                raise SystemExit(2)
            customer_id = customer.pk
        result = rollup_rebuild(customer_id=customer_id)
        self.stdout.write(f"{result} rollup rows rebuilt.")
