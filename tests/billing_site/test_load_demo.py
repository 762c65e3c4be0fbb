"""``manage.py load_demo``: a realistic, idempotent demo data set that shows every part of
the product: a current period with usage up to now, hybrid customers past 80% and 100% of
their allowance, a scheduled migration on the demo login's customer, money-losing
seat-plan accounts among enough customer-periods for the pricing lab's percentiles.

The demo is loaded (and then billed) once for the module and committed; each test runs in
its own transaction over it, and the data is flushed at the end.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.models import Customer, CustomerUser, Seat
from billing_site.demo_book import CUSTOMERS
from billing_site.management.commands.load_demo import Demo
from invoices.models import Invoice
from invoices.selectors.preview import upcoming_invoice
from invoices.services.billing_run import billing_due
from plans.models import Contract, ContractMigration, Metric, Plan, PlanVersion
from plans.periods import is_period_start
from plans.selectors import (
    contract_pending_migrations,
    contract_period_containing,
    contract_version_at,
    plan_current_version,
)
from usage.models import Event
from usage.selectors import rollup_watermark, usage_breakdown, usage_totals

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 15)
NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
# The demo is deterministic (each customer-day's events come from a generator seeded by
# the customer and the date, dated back from --today), so with the clock frozen these
# counts are exact.
DEMO_ROWS = {
    "plans.Metric": 4, "plans.Plan": 3, "plans.PlanVersion": 6, "accounts.Customer": 37,
    "plans.Contract": 40, "accounts.Seat": 293, "plans.ContractMigration": 2,
    "usage.ModelPrice": 5, "usage.Event": 33481, "invoices.Invoice": 0,
}
DEMO_INVOICES = 234  # every period of every contract that ended by NOW
PASSWORDS = ("--ops-password", "ops-Demo-pass-1", "--customer-password", "acme-Demo-pass-1",
             "--viewer-password", "acme-Viewer-pass-1")


def load(*extra: str, invoices: bool = False) -> str:
    out = StringIO()
    flags = () if invoices else ("--no-invoices",)
    call_command("load_demo", "--today", TODAY.isoformat(), *flags, *extra, stdout=out)
    return out.getvalue()


def all_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count()
            for model in apps.get_models() if not model._meta.label.startswith("sessions.")}


@dataclass(frozen=True)
class Loaded:
    first_run: str
    first_counts: dict[str, int]
    due: int  # periods due after the first run
    billed: str  # the output of the load that billed them
    billed_counts: dict[str, int]


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker) -> Loaded:
    with django_db_blocker.unblock(), time_machine.travel(NOW, tick=False):
        try:
            first_run = load(*PASSWORDS)
            first_counts = all_counts()
            due = billing_due(as_of=NOW).periods_due
            billed = load(invoices=True)
            yield Loaded(first_run, first_counts, due, billed, all_counts())
        finally:
            call_command("flush", "--no-input", verbosity=0)


@pytest.fixture(autouse=True)
def frozen_clock(demo):
    # Events are received, rolled up and billed at "now": freeze it beside --today.
    with time_machine.travel(NOW, tick=False):
        yield


def active_contract(external_id: str) -> Contract:
    return Contract.objects.get(customer__external_id=external_id,
                                status=Contract.Status.ACTIVE)


def test_first_run_loads_the_whole_demo_and_reports_it(demo):
    counts = demo.first_counts

    assert {label: counts[label] for label in DEMO_ROWS} == DEMO_ROWS
    assert len(CUSTOMERS) == DEMO_ROWS["accounts.Customer"]
    assert ("Created: 4 metrics, 3 plans, 6 plan versions, 37 customers, 40 contracts, "
            "293 seats, 2 scheduled migrations, 3 logins, 5 model prices, "
            f"{counts['usage.Event']} usage events") in demo.first_run
    assert "rejected" not in demo.first_run
    with_events = Event.objects.values_list("customer__external_id", flat=True).distinct()
    assert set(with_events) == set(
        Customer.objects.filter(archived=False).values_list("external_id", flat=True))


def test_every_current_period_has_usage_up_to_now(demo):
    for contract in Contract.objects.filter(status=Contract.Status.ACTIVE):
        period = contract_period_containing(contract=contract, day=TODAY)
        current = Event.objects.filter(customer=contract.customer,
                                       timestamp__gte=period.start_at, timestamp__lt=NOW)
        assert current.exists(), contract.customer.external_id
    assert not Event.objects.filter(timestamp__gte=NOW).exists()
    # The demo customer's period is busy from its first day to this morning.
    acme = active_contract("acme")
    period = contract_period_containing(contract=acme, day=TODAY)
    days = set(Event.objects.filter(customer=acme.customer, timestamp__gte=period.start_at)
               .values_list("timestamp__date", flat=True))
    assert days == {period.start + dt.timedelta(n) for n in range((TODAY - period.start).days + 1)}


def test_the_usage_is_rolled_up_as_the_beat_job_would(demo):
    acme = active_contract("acme")
    period = contract_period_containing(contract=acme, day=TODAY)
    tasks = Metric.objects.get(code="tasks")

    assert rollup_watermark() == NOW
    # The rollups hold what arrived before the job's cutoff; the last minutes are the tail.
    rolled = apps.get_model("usage", "UsageRollup").objects.filter(
        customer=acme.customer, metric=tasks, hour__gte=period.start_at)
    totals = usage_totals(customer=acme.customer, metrics=[tasks], start=period.start_at,
                          end=NOW)
    events = Event.objects.filter(customer=acme.customer, event_type="task.completed",
                                  timestamp__gte=period.start_at, timestamp__lt=NOW)
    assert sum(r.value for r in rolled) > events.count() * Decimal("0.95")
    assert totals["tasks"] == events.count()


def allowance_used() -> dict[str, Decimal]:
    """Per hybrid customer, this period's tasks as a share of its allowance so far."""
    used = {}
    for contract in Contract.objects.filter(status=Contract.Status.ACTIVE,
                                            plan_version__plan__code="hybrid"):
        upcoming = upcoming_invoice(customer=contract.customer, at=NOW)
        (line,) = [line for line in upcoming.rated.lines if line.metric == "tasks"]
        used[contract.customer.external_id] = line.value / line.included
    return used


def test_some_hybrid_customers_are_past_80_and_some_past_100_percent_of_their_allowance(demo):
    used = allowance_used()

    past_100 = {c for c, share in used.items() if share >= 1}
    past_80 = {c for c, share in used.items() if Decimal("0.8") <= share < 1}
    assert past_100 == {"city-power", "vanarsdel"}
    assert past_80 == {"acme", "nordlicht"}
    assert len(used) == 11  # the rest stay well inside their allowance


def test_acme_has_a_migration_scheduled_with_notice(demo):
    acme = active_contract("acme")

    (migration,) = contract_pending_migrations(contract=acme, today=TODAY)

    assert migration.scheduled_on == TODAY
    assert migration.notice_days == 30
    assert migration.effective_date >= TODAY + dt.timedelta(days=migration.notice_days)
    assert is_period_start(acme.anchor_date, "month", migration.effective_date)
    assert contract_version_at(contract=acme, day=TODAY).version == 1
    target = contract_version_at(contract=acme, day=migration.effective_date)
    assert (target.plan.code, target.version, target.currency) == ("hybrid", 3, "USD")
    assert (target.seat_price, target.charges.get().included_per_seat) == (
        Decimal("45"), Decimal("1500"))


def last_finished_period(contract: Contract):
    current = contract_period_containing(contract=contract, day=TODAY)
    return contract_period_containing(contract=contract, day=current.start - dt.timedelta(1))


def test_a_few_seat_plan_accounts_cost_more_than_they_bring_in(demo):
    losing = set()
    for contract in Contract.objects.filter(status=Contract.Status.ACTIVE,
                                            plan_version__plan__code="team-seats"):
        period = last_finished_period(contract)
        invoice = Invoice.objects.filter(customer=contract.customer,
                                         period_start=period.start_at).first()
        if invoice is None:  # started this period
            continue
        cost = usage_breakdown(customer=contract.customer, start=period.start_at,
                               end=period.end_at).total
        if cost > invoice.total:
            losing.add(contract.customer.external_id)

    assert losing == {"globex", "wide-world", "adatum"}


def test_seat_plan_periods_spread_enough_for_the_pricing_labs_percentiles(demo):
    """Per-seat provider cost over the seat plan's billed periods (the lab's definitions):
    the spread makes seat-only pricing unsafe, and a seat price at P80 for a 70% margin
    covers even the money-losing accounts' cost per seat."""
    per_seat = {}
    for invoice in Invoice.objects.filter(contract__plan_version__plan__code="team-seats",
                                          billed_seats__gt=0, customer__archived=False):
        cost = usage_breakdown(customer=invoice.customer, start=invoice.period_start,
                               end=invoice.period_end).total
        if cost:
            per_seat[invoice.customer.external_id, invoice.period_start] = (
                cost / invoice.billed_seats)
    values = sorted(per_seat.values())
    p20, p80, p95 = (statistics.quantiles(values, n=100, method="inclusive")[k - 1]
                     for k in (20, 80, 95))
    seat_price = (p80 / Decimal("0.3")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    losing = [v for (customer, _), v in per_seat.items()
              if customer in {"globex", "wide-world", "adatum"}]

    assert len(values) >= 40
    assert p95 / p20 > 10
    assert max(losing) < seat_price


def test_prints_the_logins_and_the_admin_url(demo):
    assert "/admin/" in demo.first_run
    assert "username: ops  password: ops-Demo-pass-1" in demo.first_run
    assert "username: acme-admin  password: acme-Demo-pass-1" in demo.first_run
    assert "username: acme-viewer  password: acme-Viewer-pass-1" in demo.first_run
    assert authenticate(username="ops", password="ops-Demo-pass-1").is_superuser
    roles = dict(CustomerUser.objects.filter(customer__external_id="acme")
                 .values_list("user__username", "role"))
    assert roles == {"acme-admin": "admin", "acme-viewer": "viewer"}
    assert authenticate(username="acme-viewer", password="acme-Viewer-pass-1") is not None


def test_random_passwords_are_made_when_none_is_given(demo):
    get_user_model().objects.filter(username__in=["ops", "acme-viewer"]).delete()
    customers = {c.external_id: c for c in Customer.objects.all()}

    logins = Demo(today=TODAY).load_logins(customers, ops_password=None,
                                           customer_password=None, viewer_password=None)

    passwords = {username: password for _, username, password in logins}
    assert passwords["acme-admin"] is None  # it exists: its password is not known
    assert authenticate(username="ops", password=passwords["ops"]) is not None
    assert authenticate(username="acme-viewer", password=passwords["acme-viewer"]) is not None


def test_catalog_matches_the_brief(demo):
    assert set(Metric.objects.values_list("code", flat=True)) == {
        "tasks", "tokens_rt", "tokens_batch", "ai_calls"}
    assert Metric.objects.get(code="tokens_rt").filters == {"latency_tier": "realtime"}
    team = Plan.objects.get(code="team-seats")
    assert [v.seat_price for v in team.versions.order_by("version")] == [
        Decimal("25"), Decimal("30")]
    assert plan_current_version(plan=team, today=TODAY).version == 2
    hybrid = plan_current_version(plan=Plan.objects.get(code="hybrid"), today=TODAY,
                                  currency="USD")
    tasks = hybrid.charges.get()
    assert (hybrid.seat_price, tasks.unit_price, tasks.included_per_seat) == (
        Decimal("40"), Decimal("0.05"), Decimal("1000"))
    rt = plan_current_version(plan=Plan.objects.get(code="tokens"), today=TODAY).charges.get(
        metric__code="tokens_rt")
    assert [(t.up_to, t.unit_price) for t in rt.tiers.all()] == [
        (Decimal(10_000_000), Decimal("0.000004")), (None, Decimal("0.000003"))]
    assert not PlanVersion.objects.filter(status=PlanVersion.Status.DRAFT).exists()


def test_customers_and_contracts_cover_the_interesting_cases(demo):
    assert Customer.objects.count() >= 30
    assert Customer.objects.filter(currency="EUR").count() >= 2
    active = Contract.objects.filter(status=Contract.Status.ACTIVE)
    assert active.count() == Customer.objects.filter(archived=False).count()
    team_v1 = PlanVersion.objects.get(plan__code="team-seats", version=1)
    assert active.filter(plan_version=team_v1).count() >= 3  # grandfathered
    assert {c.plan_version.plan.code for c in active} == {"team-seats", "tokens", "hybrid"}
    soon = active.filter(end_date__gte=TODAY, end_date__lte=TODAY + dt.timedelta(days=30))
    assert soon.count() >= 3
    assert active.exclude(discount_percent=None).exists()
    assert active.exclude(minimum_commitment=None).exists()
    assert Contract.objects.filter(renewed_from__isnull=False).exists()
    globex = ContractMigration.objects.get(contract__customer__external_id="globex")
    assert globex.effective_date >= TODAY + dt.timedelta(days=30)
    assert contract_version_at(contract=globex.contract,
                               day=globex.effective_date).version == 2


def test_seats_join_and_leave_during_the_current_month(demo):
    month_start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    joined = Seat.objects.filter(active_from__gt=month_start)
    left = Seat.objects.filter(active_until__gt=month_start)

    assert joined.count() == sum(spec.joiners for spec in CUSTOMERS) > 0
    assert left.count() == sum(spec.leavers for spec in CUSTOMERS) > 0
    assert all(s.active_until > month_start for s in left if s.active_until)


def test_the_demo_customer_logs_in_to_its_contract_and_this_periods_usage(demo, client, api):
    acme = active_contract("acme")
    period = contract_period_containing(contract=acme, day=TODAY)
    tasks = Event.objects.filter(customer=acme.customer, event_type="task.completed",
                                 timestamp__gte=period.start_at, timestamp__lt=period.end_at)

    upcoming = api.get("/api/v1/customers/acme/upcoming-invoice").json()
    assert client.login(username="acme-admin", password="acme-Demo-pass-1")
    page = client.get("/")

    assert (acme.plan_version.plan.code, acme.committed_seats) == ("hybrid", 3)
    assert acme.customer.seats.count() == 5
    assert tasks.count() > 1000
    (usage,) = [line for line in upcoming["lines"] if line["kind"] == "usage"]
    assert (usage["metric"], usage["value"]) == ("tasks", str(tasks.count()))
    assert upcoming["period_start"] == period.start_at.isoformat().replace("+00:00", "Z")
    assert page.status_code == 200


def test_the_ops_user_can_open_the_admin(demo, client):
    client.force_login(get_user_model().objects.get(username="ops"))
    assert client.get("/admin/plans/contract/?term_ends=next30").status_code == 200


def test_demo_bills_every_past_period_once_and_leaves_each_latest_for_review(demo):
    assert Invoice.objects.count() == demo.due == DEMO_INVOICES
    assert f"Created: {DEMO_INVOICES} invoices" in demo.billed
    assert billing_due(as_of=NOW).periods_due == 0
    for contract in Contract.objects.filter(invoices__isnull=False).distinct():
        *history, latest = contract.invoices.order_by("period_start")
        assert latest.status == Invoice.Status.DRAFT
        assert {i.status for i in history} <= {Invoice.Status.FINALIZED}


def test_loading_and_billing_the_demo_again_changes_nothing(demo):
    output = load("--ops-password", "ops-Demo-pass-1", "--customer-password", "wrong-guess",
                  invoices=True)

    assert all_counts() == demo.billed_counts
    assert "Nothing new" in output and "Nothing new" not in demo.first_run
    assert "username: ops  password: ops-Demo-pass-1" in output
    assert "wrong-guess" not in output


def test_the_demo_has_its_alerts_evaluated_at_load(demo):
    from invoices.alerts.models import AlertCrossing

    crossed = {(c.customer.external_id, c.threshold)
               for c in AlertCrossing.objects.select_related("customer")}
    customers = {customer for customer, _ in crossed}
    # The hybrid customers past 80 % of an allowance, and those past 100 % also at 100.
    assert {"city-power", "vanarsdel", "acme", "nordlicht"} <= customers
    assert {("city-power", 100), ("vanarsdel", 100)} <= crossed
    assert ("acme", 100) not in crossed and ("acme", 80) in crossed


def test_the_labs_recommended_version_fixes_the_money_losing_seat_accounts(
        demo, api, django_capture_on_commit_callbacks):
    """The demo makes the lab worth opening: the recommendation turned into a draft
    version, backtested on the seat plan, covers what the losing accounts cost."""
    losing = {"globex", "wide-world", "adatum"}
    draft = api.post("/api/v1/pricing/recommendations", {"plan": "team-seats", "periods": 3},
                     format="json")
    assert draft.status_code == 201, draft.json()
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/v1/backtests", {"plan": "team-seats", "periods": 3,
                                                 "plan_version": draft.json()["version"]},
                           format="json")
    assert started.status_code == 202, started.json()
    backtest = api.get(f"/api/v1/backtests/{started.json()['id']}").json()
    assert backtest["status"] == "done"
    rows = [r for r in backtest["results"] if r["customer"] in losing]
    assert {r["customer"] for r in rows} == losing
    before = [r for r in rows if Decimal(r["current_total"]) < Decimal(r["provider_cost"])]
    assert {r["customer"] for r in before} == losing  # each lost money at least once
    assert all(Decimal(r["candidate_total"]) >= Decimal(r["provider_cost"]) for r in rows)
    summary = backtest["summary"]
    assert Decimal(summary["margin_after"]) > Decimal(summary["margin_before"])
