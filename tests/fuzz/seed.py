"""Seed the fuzz run's fresh database and tell schemathesis which ids are real.

``python tests/fuzz/seed.py OUT_DIR`` (with the run's settings in the environment) loads
the demo data (metrics, plans with published versions, customers, seats, contracts,
draft and finalized invoices, a billing run), adds a draft version to every plan so the
draft-only operations (PATCH and publish) reach one, and creates an admin API key. It
writes:

- ``OUT_DIR/dictionaries.toml``: schemathesis dictionaries naming real rows
  (``[dictionaries.customers] values = ["acme", ...]``; ids stay integers where the
  schema says integer), appended to tests/fuzz/schemathesis.toml, whose parameters use
  them so paths with ids often hit a row instead of always answering 404;
- ``OUT_DIR/api_key``: the admin key, for the ``Authorization`` header.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Customer  # noqa: E402
from invoices.models import BillingRun, Invoice  # noqa: E402
from plans.models import Contract, ContractMigration, Metric, Plan, PlanVersion  # noqa: E402
from plans.services import plan_version_create  # noqa: E402

# Customers whose seats and contracts the dictionaries name: acme is the SPEC's worked
# example (hybrid, a joiner), globex has a scheduled migration.
CUSTOMERS = ["acme", "globex"]


def seed() -> dict[str, list]:
    call_command("load_demo", stdout=io.StringIO())
    # Each plan's newest version is a draft, so any plan code with the highest version
    # number the dictionary holds reaches one.
    for plan in Plan.objects.all():
        if not plan.versions.filter(status=PlanVersion.Status.DRAFT).exists():
            plan_version_create(plan=plan, effective_from=timezone.now().date(),
                                seat_price="45.00",
                                charges=[{"metric": "tasks", "model": "per_unit",
                                          "unit_price": "0.04", "included_per_seat": 1000}])
    customers = Customer.objects.filter(external_id__in=CUSTOMERS)
    invoices = [
        *Invoice.objects.filter(status=Invoice.Status.DRAFT).order_by("period_start")[:2],
        *Invoice.objects.filter(status=Invoice.Status.FINALIZED).order_by("period_start")[:2],
    ]
    return {
        "customers": CUSTOMERS,
        "seats": [seat.pk for c in customers for seat in c.seats.order_by("pk")[:3]],
        "contracts": list(Contract.objects.filter(customer__in=customers)
                          .order_by("pk").values_list("pk", flat=True)),
        "migrations": list(ContractMigration.objects.filter(contract__customer__in=customers)
                           .order_by("pk").values_list("pk", flat=True)),
        "invoices": [str(invoice.pk) for invoice in invoices],
        "runs": [str(pk) for pk in BillingRun.objects.values_list("pk", flat=True)[:2]],
        "metrics": list(Metric.objects.order_by("code").values_list("code", flat=True)),
        "plans": list(Plan.objects.order_by("code").values_list("code", flat=True)),
        "versions": sorted(set(PlanVersion.objects.values_list("version", flat=True))),
    }


def dictionaries_toml(ids: dict[str, list]) -> str:
    # JSON arrays of strings and integers are valid TOML arrays.
    return "".join(f"\n[dictionaries.{name}]\nvalues = {json.dumps(values)}\n"
                   for name, values in ids.items())


def api_key() -> str:
    out = io.StringIO()
    call_command("create_api_key", name="schemathesis fuzz run", scope="admin", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def main(out_dir: Path) -> None:
    ids = seed()
    empty = [name for name, values in ids.items() if not values]
    if empty:
        raise SystemExit(f"seed: no rows for {', '.join(empty)}")
    (out_dir / "dictionaries.toml").write_text(dictionaries_toml(ids), encoding="utf-8")
    key_file = out_dir / "api_key"
    key_file.touch(mode=0o600)
    key_file.write_text(api_key(), encoding="utf-8")
    print("seeded: " + ", ".join(f"{len(values)} {name}" for name, values in ids.items()))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
