"""``manage.py load_demo``: a realistic, idempotent demo data set."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from accounts.models import Customer, CustomerUser, Seat
from plans.models import Contract, ContractMigration, Metric, Plan, PlanVersion
from plans.selectors import contract_version_at, plan_current_version

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 15)


def load(*extra: str) -> str:
    out = StringIO()
    call_command("load_demo", "--today", TODAY.isoformat(), "--no-invoices", *extra, stdout=out)
    return out.getvalue()


def all_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count()
            for model in apps.get_models() if not model._meta.label.startswith("sessions.")}


@pytest.fixture
def first_run() -> str:
    return load("--ops-password", "ops-Demo-pass-1", "--customer-password", "acme-Demo-pass-1")


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
    assert not PlanVersion.objects.filter(status="draft").exists()


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
    acme = Contract.objects.get(customer__external_id="acme", status="active")
    assert acme.committed_seats == 3
    assert acme.customer.seats.count() == 5


def test_seats_join_and_leave_during_the_current_month(first_run):
    month_start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert Seat.objects.filter(active_from__gt=month_start).exists()
    assert Seat.objects.filter(active_until__gt=month_start).exists()


def test_the_ops_user_can_open_the_admin(first_run, client):
    client.force_login(get_user_model().objects.get(username="ops"))
    assert client.get("/admin/plans/contract/?term_ends=next30").status_code == 200


def test_a_rerun_with_the_same_passwords_prints_the_logins_again(first_run):
    again = load("--ops-password", "ops-Demo-pass-1", "--customer-password", "acme-Demo-pass-1")
    assert "username: ops  password: ops-Demo-pass-1" in again
    assert "username: acme-admin  password: acme-Demo-pass-1" in again
    other = load("--ops-password", "wrong-guess")
    assert "wrong-guess" not in other


def test_demo_bills_past_periods_once_and_leaves_the_latest_for_review():
    out = StringIO()
    call_command("load_demo", "--today", TODAY.isoformat(), stdout=out)
    from invoices.models import Invoice

    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT)
    finalized = Invoice.objects.filter(status=Invoice.Status.FINALIZED)
    assert drafts.exists() and finalized.exists()
    # Each contract keeps at most one draft: its latest period.
    assert drafts.values("contract").distinct().count() == drafts.count()
    before = all_counts()
    call_command("load_demo", "--today", TODAY.isoformat(), stdout=StringIO())
    assert all_counts() == before
