"""Ops admin for the catalog and contracts; importing the modules registers them."""

from plans.admin import catalog, charges, contracts, customers, migrations, versions

__all__ = ["catalog", "charges", "contracts", "customers", "migrations", "versions"]
