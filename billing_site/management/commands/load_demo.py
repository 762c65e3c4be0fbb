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
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Customer, CustomerUser
from accounts.services import customer_create, customer_update, customer_user_create, seat_create
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
from usage.demo import UsageProfile, load_usage_demo

ONE_DAY = dt.timedelta(days=1)

METRICS: list[dict[str, Any]] = [
    {"code": "tasks", "name": "Tasks completed", "event_type": "task.completed",
     "aggregation": "count"},
    {"code": "tokens_rt", "name": "Realtime tokens", "event_type": "ai.call",
     "aggregation": "sum", "field": "total_tokens", "filters": {"latency_tier": "realtime"}},
    {"code": "tokens_batch", "name": "Batch tokens", "event_type": "ai.call",
     "aggregation": "sum", "field": "total_tokens", "filters": {"latency_tier": "batch"}},
    {"code": "ai_calls", "name": "AI calls", "event_type": "ai.call", "aggregation": "count"},
]


@dataclass(frozen=True)
class VersionSpec:
    months_ago: int  # effective from the 1st of the month this many months before today's
    # (negative: a version published now that takes effect in a coming month)
    seat_price: str = "0"
    base_fee: str = "0"
    currency: str = "USD"
    charges: list[dict] = field(default_factory=list)


TOKEN_CHARGES = [
    {"metric": "tokens_rt", "model": "graduated", "tiers": [
        {"up_to": 10_000_000, "unit_price": "0.000004", "flat_fee": "0"},
        {"up_to": None, "unit_price": "0.000003", "flat_fee": "0"}]},
    {"metric": "tokens_batch", "model": "graduated", "tiers": [
        {"up_to": 10_000_000, "unit_price": "0.000002", "flat_fee": "0"},
        {"up_to": None, "unit_price": "0.0000015", "flat_fee": "0"}]},
]

# Version numbers follow list order (1, 2, …).
PLANS: list[tuple[str, str, str, list[VersionSpec]]] = [
    ("team-seats", "Team seats", "Per-seat pricing for teams; v1 customers are grandfathered.", [
        VersionSpec(months_ago=18, seat_price="25.00"),
        VersionSpec(months_ago=4, seat_price="30.00"),
    ]),
    ("tokens", "Tokens (pay as you go)", "Per-token pricing, realtime and batch, graduated.", [
        VersionSpec(months_ago=12, charges=TOKEN_CHARGES),
    ]),
    ("hybrid", "Hybrid", "Seats with 1,000 tasks included per seat (SPEC worked example).", [
        VersionSpec(months_ago=12, seat_price="40.00", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.05",
             "included_per_seat": 1000}]),
        VersionSpec(months_ago=12, seat_price="37.00", currency="EUR", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.045",
             "included_per_seat": 1000}]),
        # Next month's USD version: more included, cheaper overage, a dearer seat. Acme is
        # scheduled to move to it (new contracts get it once it takes effect).
        VersionSpec(months_ago=-1, seat_price="45.00", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.04",
             "included_per_seat": 1500}]),
    ]),
]


@dataclass(frozen=True)
class Term:
    plan: str
    version: int
    months_ago: int = 0  # start: this many months before today's month …
    day: int = 1  # … on this day (clamped to the month's end)
    months: int | None = 12  # term length; None = evergreen
    auto_renew: bool = True


@dataclass(frozen=True)
class CustomerSpec:
    external_id: str
    name: str
    term: Term
    seats: int
    currency: str = "USD"
    renewal: str = Contract.Renewal.GRANDFATHER
    committed_seats: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    ends_in_days: int | None = None  # the term's last day is about this far from today
    joiners: int = 0  # seats that joined in the last few weeks
    leavers: int = 0  # seats that left in the last few weeks
    previous: Term | None = None  # an earlier contract that ended without renewal
    migrate_to: int | None = None  # schedule a migration to this version number
    archived: bool = False  # its contract ended and it was archived
    days_in: int | None = None  # today is this many days into the current period
    usage: UsageProfile = UsageProfile()


P = UsageProfile
# Seat plans: per seat and month, light users cost the vendor well under a dollar in
# provider fees, median ones a few dollars, heavy ones about ten; the tail runs agents on
# frontier models with long contexts and costs more than the seat fee. Three periods of
# history each, for the pricing lab's light / median / heavy / tail percentiles.
LIGHT = P(tasks=1, calls=3, tokens=25, frontier=0.15, periods=3)
MEDIAN = P(tasks=2, calls=6, tokens=60, frontier=0.25, periods=3)
HEAVY = P(tasks=3, calls=10, tokens=130, frontier=0.4, periods=3)
TAIL = P(tasks=4, calls=20, tokens=90, frontier=0.7, agents=0.6, periods=3, spread=0.9)
# Priced per token: production-size calls.
TOKENS = P(tasks=1, calls=4, tokens=90, periods=1)


def hybrid(pace: float, *, included: int = 1000, ramp: int = 0) -> UsageProfile:
    """``pace``: the month's tasks per seat as a share of the allowance per seat."""
    return P(tasks=included * pace, calls=8, tokens=8, periods=1, ramp=ramp)


T = Term
CUSTOMERS: list[CustomerSpec] = [
    # The SPEC's worked example: hybrid, 3 committed seats, 4 seats + 1 joining mid-period;
    # past 80% of its allowance two thirds into the period (on pace to pass 100%), and
    # scheduled to move to hybrid v3. Its admin and viewer are the demo's customer logins.
    CustomerSpec("acme", "Acme Corporation", T("hybrid", 1, months_ago=5), seats=4,
                 committed_seats=3, joiners=1, days_in=20, migrate_to=3,
                 usage=hybrid(1.45, ramp=5)),
    # Team seats, grandfathered on v1 (25.00) while v2 (30.00) is current. Globex's agents
    # cost more than its seats bring in, even after its scheduled move to v2.
    CustomerSpec("globex", "Globex Inc.", T("team-seats", 1, months_ago=8), seats=12,
                 migrate_to=2, leavers=1, usage=TAIL),
    CustomerSpec("initech", "Initech", T("team-seats", 1, months_ago=10, day=15), seats=25,
                 overrides={"discount_percent": "10"}, joiners=2, usage=HEAVY),
    CustomerSpec("northwind", "Northwind Traders", T("team-seats", 1, months_ago=6, months=24),
                 seats=9, usage=LIGHT),
    CustomerSpec("contoso", "Contoso Ltd.", T("team-seats", 1), seats=14, ends_in_days=12,
                 usage=MEDIAN),
    CustomerSpec("fabrikam", "Fabrikam, Inc.", T("team-seats", 1, months_ago=15), seats=7,
                 usage=LIGHT),
    CustomerSpec("bellows", "Bellows College", T("team-seats", 1, months_ago=11), seats=16,
                 usage=LIGHT),
    CustomerSpec("fineart", "School of Fine Art", T("team-seats", 1, months_ago=9, day=5),
                 seats=6, usage=LIGHT),
    # Team seats on the current version.
    CustomerSpec("tailspin", "Tailspin Toys", T("team-seats", 2, months_ago=3), seats=6,
                 leavers=1, usage=HEAVY),
    CustomerSpec("adventure-works", "Adventure Works Cycles", T("team-seats", 2, months_ago=2),
                 seats=18, committed_seats=20, overrides={"seat_price": "27.00"}, usage=MEDIAN),
    CustomerSpec("litware", "Litware, Inc.", T("team-seats", 2, months=3, auto_renew=False),
                 seats=4, ends_in_days=25, usage=LIGHT),
    CustomerSpec("proseware", "Proseware, Inc.", T("team-seats", 2, months_ago=1, months=None),
                 seats=5, joiners=1, usage=MEDIAN),
    CustomerSpec("wide-world", "Wide World Importers", T("team-seats", 1, months_ago=14),
                 seats=11, renewal=Contract.Renewal.LATEST, usage=TAIL),
    CustomerSpec("lamna", "Lamna Healthcare", T("team-seats", 2, months_ago=3, day=31),
                 seats=8, usage=MEDIAN),
    CustomerSpec("trey-research", "Trey Research", T("team-seats", 2, months_ago=2, day=10),
                 seats=3, overrides={"minimum_commitment": "150.00"}, usage=HEAVY),
    CustomerSpec("adatum", "A. Datum Corporation", T("team-seats", 2, months_ago=6), seats=10,
                 usage=TAIL),
    CustomerSpec("tailwind", "Tailwind Traders", T("team-seats", 2, months_ago=5, day=8),
                 seats=7, usage=MEDIAN),
    CustomerSpec("contoso-pharma", "Contoso Pharmaceuticals",
                 T("team-seats", 2, months_ago=5, day=22), seats=9, usage=MEDIAN),
    CustomerSpec("libertys", "Liberty's Delightful Sinful Bakery & Cafe",
                 T("team-seats", 2, months_ago=7, day=20), seats=3, usage=HEAVY),
    # Usage only: priced per token.
    CustomerSpec("woodgrove", "Woodgrove Bank", T("tokens", 1, months_ago=7), seats=5,
                 overrides={"minimum_commitment": "500.00"}, usage=TOKENS),
    CustomerSpec("fourth-coffee", "Fourth Coffee", T("tokens", 1, months_ago=4), seats=2,
                 usage=TOKENS),
    CustomerSpec("alpine-ski", "Alpine Ski House", T("tokens", 1, months_ago=9), seats=4,
                 overrides={"overage_cap": "2000.00"}, usage=TOKENS),
    CustomerSpec("coho-winery", "Coho Winery", T("tokens", 1, months_ago=2, day=20), seats=2,
                 usage=TOKENS),
    CustomerSpec("relecloud", "Relecloud", T("tokens", 1), seats=6, ends_in_days=5,
                 renewal=Contract.Renewal.LATEST, usage=TOKENS),
    CustomerSpec("margies-travel", "Margie's Travel", T("tokens", 1, months_ago=5, months=None),
                 seats=3, usage=TOKENS),
    CustomerSpec("humongous", "Humongous Insurance", T("tokens", 1, months_ago=6), seats=10,
                 overrides={"discount_percent": "5", "minimum_commitment": "1000.00"},
                 usage=TOKENS),
    # Hybrid: most stay well inside their allowance; city-power and vanarsdel are past
    # 100% already, nordlicht past 80%.
    CustomerSpec("blue-yonder", "Blue Yonder Airlines", T("hybrid", 1, months_ago=6), seats=15,
                 overrides={"included_per_seat": "1500"}, joiners=2, leavers=1,
                 usage=hybrid(0.03, included=1500)),
    CustomerSpec("city-power", "City Power & Light", T("hybrid", 1, months_ago=4), seats=2,
                 days_in=24, usage=hybrid(1.5, ramp=4)),
    CustomerSpec("southridge", "Southridge Video", T("hybrid", 1, months_ago=3), seats=7,
                 committed_seats=10, usage=hybrid(0.08)),
    CustomerSpec("wingtip", "Wingtip Toys", T("hybrid", 1), seats=5, ends_in_days=20,
                 usage=hybrid(0.12)),
    CustomerSpec("lucerne", "Lucerne Publishing", T("hybrid", 1, months_ago=2, months=24),
                 seats=12, leavers=2, usage=hybrid(0.04)),
    CustomerSpec("vanarsdel", "VanArsdel, Ltd.", T("hybrid", 1, months_ago=4), seats=2,
                 days_in=22, previous=T("team-seats", 1, auto_renew=False),
                 usage=hybrid(1.45, ramp=4)),
    CustomerSpec("munsons", "Munson's Pickles and Preserves", T("hybrid", 1, months_ago=1),
                 seats=3, joiners=1, usage=hybrid(0.2)),
    CustomerSpec("graphic-design", "Graphic Design Institute", T("hybrid", 1, months_ago=7),
                 seats=20, overrides={"seat_price": "36.00", "discount_percent": "15"},
                 usage=hybrid(0.03)),
    CustomerSpec("nordlicht", "Nordlicht Analytik GmbH", T("hybrid", 2, months_ago=5), seats=2,
                 currency="EUR", days_in=21, usage=hybrid(1.3, ramp=5)),
    CustomerSpec("maison-lumiere", "Maison Lumière SAS", T("hybrid", 2, months_ago=2), seats=4,
                 currency="EUR", joiners=1, usage=hybrid(0.15)),
    # Churned: the term ended without renewal and the customer was archived.
    CustomerSpec("consolidated", "Consolidated Messenger",
                 T("team-seats", 1, months_ago=17, auto_renew=False), seats=4, archived=True),
]

FIRST_NAMES = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor",
    "wendy", "xavier", "yara", "zoe", "amir", "beatriz", "chen", "dmitri", "emeka",
    "fatima", "goran",
]


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
