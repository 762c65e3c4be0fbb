"""The admin refuses the dates and counts the API refuses, as form errors on the field,
never a 500 (the same bounds, from ``common.bounds``)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from accounts.models import Seat
from accounts.services import seat_create
from plans.models import Contract, ContractMigration, PlanVersion
from plans.services import contract_create
from tests.factories import CustomerFactory, PlanFactory, admin_form_data, make_version

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def url(name: str, *args) -> str:
    return reverse(f"admin:{name}", args=args)


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def contract_data(customer, version, **changes) -> dict:
    return {"customer": customer.pk, "plan_version": version.pk, "start_date": "2026-10-01",
            "end_date": "", "auto_renew": "on", "renewal": "grandfather",
            "committed_seats": "3", "seat_price": "", "base_fee": "", "included_per_seat": "",
            "discount_percent": "", "overage_cap": "", "minimum_commitment": "", **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_date": "0376-01-01"}, "start_date"),
        ({"end_date": "9999-12-31"}, "end_date"),
        ({"end_date": "2201-01-31"}, "end_date"),
        ({"committed_seats": "2147483647"}, "committed_seats"),
        ({"committed_seats": "99999999999999999999"}, "committed_seats"),
    ],
)
def test_contract_add_refuses_absurd_dates_and_counts_on_the_field(admin_client, changes, field):
    response = admin_client.post(url("plans_contract_add"),
                                 contract_data(CustomerFactory(), make_version(), **changes))
    assert field in form_errors(response)
    assert not Contract.objects.exists()


def test_contract_change_refuses_an_end_date_in_year_9999(admin_client):
    contract = contract_create(customer=CustomerFactory(), plan_version=make_version(),
                               start_date=dt.date(2026, 10, 1))
    page = admin_client.get(url("plans_contract_change", contract.pk))
    response = admin_client.post(url("plans_contract_change", contract.pk),
                                 admin_form_data(page, end_date="9999-12-31"))
    assert "end_date" in form_errors(response)


@pytest.mark.parametrize(("notice_days", "field"), [("2147483646", "notice_days"),
                                                    ("3651", "notice_days"),
                                                    ("30", "effective_date")])
def test_scheduling_a_migration_refuses_more_than_ten_years_notice(admin_client, notice_days,
                                                                   field):
    plan = PlanFactory()
    contract = contract_create(customer=CustomerFactory(),
                               plan_version=make_version(plan=plan),
                               start_date=dt.date(2026, 10, 1))
    later = make_version(plan=plan, effective_from=dt.date(2026, 6, 1))
    response = admin_client.post(url("plans_contractmigration_add"), {
        "contract": contract.pk, "plan_version": later.pk, "effective_date": "0613-04-01"
        if field == "effective_date" else "2026-12-01", "notice_days": notice_days})
    assert field in form_errors(response)
    assert not ContractMigration.objects.exists()


def test_plan_version_add_refuses_year_613(admin_client):
    plan = PlanFactory()
    response = admin_client.post(url("plans_planversion_add"), {
        "plan": plan.pk, "effective_from": "0613-04-20", "currency": "USD",
        "billing_interval": "month", "seat_price": "40", "base_fee": "0",
        "charges-TOTAL_FORMS": "0", "charges-INITIAL_FORMS": "0"})
    assert "effective_from" in form_errors(response)
    assert not PlanVersion.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"active_from_0": "0376-05-01"}, "active_from"),
    ({"active_until_0": "9999-12-31", "active_until_1": "23:00:00"}, "active_until"),
])
def test_seat_change_refuses_times_outside_the_supported_years(admin_client, changes, field):
    seat = seat_create(customer=CustomerFactory(), email="alice@x.test",
                       active_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    page = admin_client.get(url("accounts_seat_change", seat.pk))
    response = admin_client.post(url("accounts_seat_change", seat.pk),
                                 admin_form_data(page, **changes))
    assert field in form_errors(response)
    seat.refresh_from_db()
    assert seat.active_from.year == 2026 and seat.active_until is None
    assert Seat.objects.count() == 1
