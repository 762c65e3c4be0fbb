"""``manage.py load_demo``: a realistic catalog, ~40 customers with seats and contracts,
months of usage up to now, an ops superuser and two customer logins (an admin and a
viewer of acme), all dated relative to ``--today``.

The data is chosen so every page has something to show: acme (the login) is past 80%
of its allowance with a migration to a new hybrid version scheduled; other hybrid
customers are past 80% or 100%; a tail of seat-plan customers costs more in provider
fees than their seats bring in, among enough light, median and heavy ones for the
pricing lab's percentiles to mean something.

Everything is written through the services, so the demo obeys the same rules as the
API. Idempotent: each object is looked up by its natural key (metric/plan code, plan
and version number, customer external_id, username) and skipped when present; a
second run creates nothing and says so.

This command is a composition root (like billing_site): it sits in accounts for
discoverability but builds plans and contracts too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Customer, CustomerUser
from accounts.services import customer_create, customer_update, customer_user_create, seat_create
from billing_site.demo_book import (
    CUSTOMERS,
    FIRST_NAMES,
    METRICS,
    PLANS,
    CustomerSpec,
    Term,
    VersionSpec,
)
from invoices.alerts.services import alerts_evaluate
from invoices.models import Invoice
from invoices.services.billing_run import billing_due, billing_run
from invoices.services.lifecycle import invoice_finalize
from invoices.stripe.tasks import queue_invoice_sync
from plans.models import Contract, Metric, Plan, PlanVersion
from plans.periods import add_months, at_midnight, period_containing
from plans.services import (
    contract_create,
    contract_renew_due,
    contract_schedule_migration,
    metric_create,
    plan_create,
    plan_version_create,
    plan_version_publish,
)
from usage.demo import load_usage_demo

ONE_DAY = dt.timedelta(days=1)

def month_day(today: dt.date, months_ago: int, day: int) -> dt.date:
    first = add_months(today.replace(day=1), -months_ago)
    return first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))


def term_end(start: dt.date, months: int | None) -> dt.date | None:
    return None if months is None else add_months(start, months) - ONE_DAY


class Demo:
    def __init__(self, *, today: dt.date):
        self.today = today
        self.now = at_midnight(today)
        self.created: Counter = Counter()
        self.skipped: Counter = Counter()

    # -- catalog -----------------------------------------------------------------------------

    def load_catalog(self) -> dict[tuple[str, int], PlanVersion]:
        for spec in METRICS:
            if Metric.objects.filter(code=spec["code"]).exists():
                self.skipped["metrics"] += 1
            else:
                metric_create(**spec)
                self.created["metrics"] += 1
        versions: dict[tuple[str, int], PlanVersion] = {}
        for code, name, description, version_specs in PLANS:
            plan = Plan.objects.filter(code=code).first()
            if plan is None:
                plan = plan_create(code=code, name=name, description=description)
                self.created["plans"] += 1
            else:
                self.skipped["plans"] += 1
            for number, spec in enumerate(version_specs, start=1):
                versions[code, number] = self._version(plan, number, spec)
        return versions

    def _version(self, plan: Plan, number: int, spec: VersionSpec) -> PlanVersion:
        existing = plan.versions.filter(version=number).first()
        if existing is not None:
            self.skipped["plan versions"] += 1
            return existing
        effective = add_months(self.today.replace(day=1), -spec.months_ago)
        version = plan_version_create(
            plan=plan, effective_from=effective, currency=spec.currency,
            billing_interval=PlanVersion.Interval.MONTH, seat_price=spec.seat_price,
            base_fee=spec.base_fee, charges=[dict(c) for c in spec.charges],
        )
        # Published a week before it took effect, or now for a version still to come.
        published = min(at_midnight(effective - 7 * ONE_DAY), self.now)
        version = plan_version_publish(version=version, now=published)
        self.created["plan versions"] += 1
        return version

    # -- customers, seats, contracts ---------------------------------------------------------

    def load_customers(self, versions: dict[tuple[str, int], PlanVersion]) -> dict[str, Customer]:
        customers = {}
        for index, spec in enumerate(CUSTOMERS):
            customer = Customer.objects.filter(external_id=spec.external_id).first()
            if customer is not None:
                self.skipped["customers"] += 1
            else:
                customer = self._customer(index, spec, versions)
            customers[spec.external_id] = customer
        return customers

    def _start(self, spec: CustomerSpec) -> dt.date:
        term = spec.term
        if spec.days_in is not None:
            return add_months(self.today - dt.timedelta(days=spec.days_in), -term.months_ago)
        if spec.ends_in_days is None:
            return month_day(self.today, term.months_ago, term.day)
        end_exclusive = self.today + dt.timedelta(days=spec.ends_in_days + 1)
        return add_months(end_exclusive, -(term.months or 12))

    def _customer(self, index: int, spec: CustomerSpec,
                  versions: dict[tuple[str, int], PlanVersion]) -> Customer:
        customer = customer_create(external_id=spec.external_id, name=spec.name,
                                   email=f"billing@{spec.external_id}.test",
                                   currency=spec.currency)
        self.created["customers"] += 1
        start = self._start(spec)
        first_start = start
        if spec.previous is not None:
            # A full term that ended the day before this one started.
            first_start = add_months(start, -(spec.previous.months or 12))
            previous = self._contract(customer, spec, spec.previous, first_start, versions,
                                      end=start - ONE_DAY)
            self._run_renewals(previous)
        contract = self._contract(customer, spec, spec.term, start, versions)
        self._seats(index, spec, customer, first_start, contract)
        contract = self._run_renewals(contract)
        if spec.migrate_to is not None and contract is not None:
            self._migration(contract, versions[spec.term.plan, spec.migrate_to])
        if spec.archived:
            customer = customer_update(customer=customer, archived=True)
        return customer

    def _contract(self, customer: Customer, spec: CustomerSpec, term: Term, start: dt.date,
                  versions: dict[tuple[str, int], PlanVersion],
                  end: dt.date | None = None) -> Contract:
        contract = contract_create(
            customer=customer, plan_version=versions[term.plan, term.version], start_date=start,
            end_date=end or term_end(start, term.months), auto_renew=term.auto_renew,
            renewal=spec.renewal, committed_seats=spec.committed_seats, **spec.overrides,
        )
        self.created["contracts"] += 1
        return contract

    def _run_renewals(self, contract: Contract) -> Contract | None:
        """Age a contract to today: end past terms, renewing them as the hourly job would."""
        while contract.end_date is not None and contract.end_date < self.today:
            renewed = contract_renew_due(now=self.now, contract_ids=[contract.pk])
            if not renewed:
                return None
            contract = renewed[0]
            self.created["contracts"] += 1
        return contract

    def _seats(self, index: int, spec: CustomerSpec, customer: Customer, start: dt.date,
               contract: Contract | None) -> None:
        names = FIRST_NAMES[index % 7:] + FIRST_NAMES[:index % 7]
        base_from = at_midnight(start)
        ended = at_midnight(contract.end_date + ONE_DAY) if spec.archived else None
        plan = []
        for n in range(spec.seats):
            until = ended
            if n < spec.leavers:  # left a few days ago, after the current period began
                until = self.now - dt.timedelta(days=4 + 3 * n)
            plan.append((base_from, until))
        for n in range(spec.joiners):  # joined in the last few weeks
            plan.append((self.now - dt.timedelta(days=5 + 6 * n), None))
        for n, (active_from, active_until) in enumerate(plan):
            if active_until is not None and active_until <= active_from:
                active_until = None
            name = names[n % len(names)] + ("" if n < len(names) else str(n // len(names)))
            seat_create(customer=customer, email=f"{name}@{spec.external_id}.test",
                        name=name.capitalize(), active_from=active_from,
                        active_until=active_until)
            self.created["seats"] += 1

    def _migration(self, contract: Contract, version: PlanVersion) -> None:
        earliest = self.today + dt.timedelta(days=30)
        period = period_containing(contract.anchor_date, version.billing_interval, earliest)
        effective = period.start if period.start >= earliest else period.end
        if contract.end_date is not None and effective > contract.end_date:
            return
        contract_schedule_migration(contract=contract, plan_version=version,
                                    effective_date=effective, today=self.today)
        self.created["scheduled migrations"] += 1

    # -- logins ------------------------------------------------------------------------------

    def load_logins(self, customers: dict[str, Customer], *, ops_password: str | None,
                    customer_password: str | None,
                    viewer_password: str | None) -> list[tuple[str, str, str | None]]:
        """(label, username, password or None when the user already existed)."""
        acme = customers["acme"]
        wanted = [
            ("Ops admin", "ops", ops_password,
             lambda password: get_user_model().objects.create_superuser(
                 username="ops", email="ops@example.test", password=password)),
            ("Customer admin", "acme-admin", customer_password,
             lambda password: customer_user_create(
                 customer=acme, username="acme-admin", password=password,
                 email="admin@acme.test", role=CustomerUser.Role.ADMIN)),
            ("Customer viewer", "acme-viewer", viewer_password,
             lambda password: customer_user_create(
                 customer=acme, username="acme-viewer", password=password,
                 email="viewer@acme.test", role=CustomerUser.Role.VIEWER)),
        ]
        logins = []
        for label, username, given, create in wanted:
            existing = get_user_model().objects.filter(username=username).first()
            if existing is not None:
                self.skipped["logins"] += 1
                # Show a password passed on the command line again if it still works.
                known = given if given and existing.check_password(given) else None
                logins.append((label, username, known))
            else:
                password = given or secrets.token_urlsafe(12)
                create(password)
                self.created["logins"] += 1
                logins.append((label, username, password))
        return logins


def _finalize_all_but_latest(*, now: dt.datetime) -> None:
    """History is finalized; each contract's latest invoice stays a draft for ops to review."""
    latest: dict[int, Invoice] = {}
    for invoice in Invoice.objects.filter(status=Invoice.Status.DRAFT).order_by("period_start"):
        previous = latest.get(invoice.contract_id)
        if previous is not None:
            queue_invoice_sync(invoice_finalize(invoice=previous, now=now))
        latest[invoice.contract_id] = invoice


def _noun(plural: str, count: int) -> str:
    return plural.removesuffix("s") if count == 1 else plural


class Command(BaseCommand):
    help = "Load demo metrics, plans, customers, seats, contracts and logins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--today", type=dt.date.fromisoformat, default=None,
                            help="Date the demo is built around (YYYY-MM-DD, default: today UTC).")
        parser.add_argument("--ops-password", default=None,
                            help="Password for the new 'ops' superuser (default: random).")
        parser.add_argument("--customer-password", default=None,
                            help="Password for the new 'acme-admin' login (default: random).")
        parser.add_argument("--viewer-password", default=None,
                            help="Password for the new 'acme-viewer' login (default: random).")
        parser.add_argument("--no-invoices", action="store_true",
                            help="Skip the billing run over the demo's past periods.")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="Where the app is served, for the printed links.")

    def handle(self, *args, **options):
        today = options["today"] or dt.datetime.now(dt.UTC).date()
        demo = Demo(today=today)
        with transaction.atomic():
            versions = demo.load_catalog()
            customers = demo.load_customers(versions)
            logins = demo.load_logins(customers, ops_password=options["ops_password"],
                                      customer_password=options["customer_password"],
                                      viewer_password=options["viewer_password"])
            profiles = {spec.external_id: spec.usage for spec in CUSTOMERS}
            demo.created.update(load_usage_demo(today=today, customers=customers,
                                                 profiles=profiles, out=self.stdout))
        # Bill the periods that already ended so ops find drafts to review; the unique
        # (contract, period) constraint makes a second load create none.
        if not options["no_invoices"]:
            self._bill_past_periods(demo)
        # The thresholds the demo's usage has crossed, as the first rollup job would find
        # them, so the dashboard and the admin show the alerts at once (a crossing is
        # unique per period: a second load adds none).
        crossings = len(alerts_evaluate(now=min(dt.datetime.now(dt.UTC),
                                                at_midnight(demo.today + ONE_DAY))))
        if crossings:
            demo.created["alert crossings"] += crossings
        self._report(demo, logins, options["base_url"].rstrip("/"))

    def _bill_past_periods(self, demo: Demo) -> None:
        now = dt.datetime.now(dt.UTC)
        as_of = min(now, at_midnight(demo.today + ONE_DAY))
        if not billing_due(as_of=as_of).periods_due:
            return
        run = billing_run(as_of=as_of, now=now)
        if run.invoices_created:
            demo.created["invoices"] += run.invoices_created
            _finalize_all_but_latest(now=now)

    def _report(self, demo: Demo, logins, base_url: str) -> None:
        write = self.stdout.write
        write(f"Demo data for today = {demo.today.isoformat()}")
        if demo.created:
            write(self.style.SUCCESS("Created: " + ", ".join(
                f"{count} {_noun(what, count)}" for what, count in demo.created.items())))
        else:
            write(self.style.WARNING("Nothing new: the demo data was already loaded."))
        if demo.skipped:
            write("Already present (skipped): " + ", ".join(
                f"{count} {_noun(what, count)}" for what, count in demo.skipped.items()))
        write("")
        for label, username, password in logins:
            url = f"{base_url}/admin/" if username == "ops" else f"{base_url}/accounts/login/"
            if username != "ops":
                label = f"{label} (acme)"
            shown = password if password is not None else (
                f"(unchanged since it was created; reset: manage.py changepassword {username})")
            write(f"{label:23} {url}  username: {username}  password: {shown}")
