"""``manage.py load_demo``: a realistic, idempotent demo data set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.models import Customer, CustomerUser, Seat
from billing_site.management.commands.load_demo import CUSTOMERS
from invoices.models import Invoice
from invoices.services.billing_run import billing_due
from plans.models import Contract, ContractMigration, Metric, Plan, PlanVersion
from plans.selectors import contract_period_containing, contract_version_at, plan_current_version
from usage.models import Event

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 15)
NOW = dt.datetime(2026, 11, 15, 12, tzinfo=dt.UTC)
# The demo is deterministic (each customer's events come from a generator seeded by its
# external_id, dated back from --today), so with the clock frozen these counts are exact.
DEMO_ROWS = {
    "plans.Metric": 4, "plans.Plan": 3, "plans.PlanVersion": 5, "accounts.Customer": 31,
    "plans.Contract": 34, "accounts.Seat": 259, "plans.ContractMigration": 1,
    "usage.ModelPrice": 5, "usage.Event": 4252, "invoices.Invoice": 0,
}
DEMO_INVOICES = 193  # every period of every contract that ended by NOW


def load(*extra: str) -> str:
    out = StringIO()
    call_command("load_demo", "--today", TODAY.isoformat(), "--no-invoices", *extra, stdout=out)
    return out.getvalue()


def all_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count()
            for model in apps.get_models() if not model._meta.label.startswith("sessions.")}


@pytest.fixture(autouse=True)
def frozen_clock():
    # Events are received, rolled up and billed at "now": freeze it beside --today.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def first_run() -> str:
    return load("--ops-password", "ops-Demo-pass-1", "--customer-password", "acme-Demo-pass-1")


def test_first_run_loads_the_whole_demo_and_reports_it(first_run):
    counts = all_counts()

    assert {label: counts[label] for label in DEMO_ROWS} == DEMO_ROWS
    assert len(CUSTOMERS) == DEMO_ROWS["accounts.Customer"]
    assert ("Created: 4 metrics, 3 plans, 5 plan versions, 31 customers, 34 contracts, "
            "259 seats, 1 scheduled migration, 2 logins, 5 model prices, 4252 usage events"
            ) in first_run
    with_events = Event.objects.values_list("customer__external_id", flat=True).distinct()
    assert set(with_events) == set(
        Customer.objects.filter(archived=False).values_list("external_id", flat=True))


def test_second_run_creates_nothing_and_says_so(first_run):
    before = all_counts()
    output = load()
    assert all_counts() == before
    assert "Nothing new" in output
    assert "Created:" in first_run and "Nothing new" not in first_run


def test_prints_the_logins_and_the_admin_url(first_run):
    assert "/admin/" in first_run
    assert "username: ops  password: ops-Demo-pass-1" in first_run
    assert "username: acme-admin  password: acme-Demo-pass-1" in first_run
    assert authenticate(username="ops", password="ops-Demo-pass-1").is_superuser
    membership = CustomerUser.objects.get(user__username="acme-admin")
    assert (membership.customer.external_id, membership.role) == ("acme", "admin")
    again = load()
    assert "username: ops" in again and "ops-Demo-pass-1" not in again


def test_random_passwords_are_printed_when_none_is_given():
    output = load()
    line = next(line for line in output.splitlines() if "username: ops " in line)
    password = line.rsplit("password: ", 1)[1]
    assert authenticate(username="ops", password=password) is not None


def test_catalog_matches_the_brief(first_run):
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


def test_customers_and_contracts_cover_the_interesting_cases(first_run):
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
    migration = ContractMigration.objects.get()
    assert migration.effective_date >= TODAY + dt.timedelta(days=30)
    assert contract_version_at(contract=migration.contract,
                               day=migration.effective_date).version == 2


def test_seats_join_and_leave_during_the_current_month(first_run):
    month_start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    joined = Seat.objects.filter(active_from__gt=month_start)
    left = Seat.objects.filter(active_until__gt=month_start)

    assert joined.count() == sum(spec.joiners for spec in CUSTOMERS) > 0
    assert left.count() == sum(spec.leavers for spec in CUSTOMERS) > 0
    assert all(s.active_until > month_start for s in left if s.active_until)


def test_the_demo_customer_logs_in_to_its_contract_and_this_periods_usage(first_run, client,
                                                                          api):
    acme = Contract.objects.get(customer__external_id="acme", status=Contract.Status.ACTIVE)
    period = contract_period_containing(contract=acme, day=TODAY)
    tasks = Event.objects.filter(customer=acme.customer, event_type="task.completed",
                                 timestamp__gte=period.start_at, timestamp__lt=period.end_at)

    upcoming = api.get("/api/v1/customers/acme/upcoming-invoice").json()
    assert client.login(username="acme-admin", password="acme-Demo-pass-1")
    page = client.get("/")

    assert (acme.plan_version.plan.code, acme.committed_seats) == ("hybrid", 3)
    assert acme.customer.seats.count() == 5
    assert tasks.count() > 0
    (usage,) = [line for line in upcoming["lines"] if line["kind"] == "usage"]
    assert (usage["metric"], usage["value"]) == ("tasks", str(tasks.count()))
    assert upcoming["period_start"] == period.start_at.isoformat().replace("+00:00", "Z")
    assert page.status_code == 200
    assert f"{upcoming['total']} USD" in page.content.decode()


def test_the_ops_user_can_open_the_admin(first_run, client):
    client.force_login(get_user_model().objects.get(username="ops"))
    assert client.get("/admin/plans/contract/?term_ends=next30").status_code == 200


def test_a_rerun_with_the_same_passwords_prints_the_logins_again(first_run):
    again = load("--ops-password", "ops-Demo-pass-1", "--customer-password", "acme-Demo-pass-1")
    assert "username: ops  password: ops-Demo-pass-1" in again
    assert "username: acme-admin  password: acme-Demo-pass-1" in again
    other = load("--ops-password", "wrong-guess")
    assert "wrong-guess" not in other


def bill_demo() -> str:
    out = StringIO()
    call_command("load_demo", "--today", TODAY.isoformat(), stdout=out)
    return out.getvalue()


def test_demo_bills_every_past_period_once_and_leaves_each_latest_for_review(first_run):
    due = billing_due(as_of=NOW).periods_due

    output = bill_demo()

    assert Invoice.objects.count() == due == DEMO_INVOICES
    assert f"Created: {DEMO_INVOICES} invoices" in output
    assert billing_due(as_of=NOW).periods_due == 0
    for contract in Contract.objects.filter(invoices__isnull=False).distinct():
        *history, latest = contract.invoices.order_by("period_start")
        assert latest.status == Invoice.Status.DRAFT
        assert {i.status for i in history} <= {Invoice.Status.FINALIZED}


def test_billing_the_demo_again_changes_nothing(first_run):
    bill_demo()
    before = all_counts()

    output = bill_demo()

    assert all_counts() == before
    assert "Nothing new" in output
