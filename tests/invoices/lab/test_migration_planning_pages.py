"""The migration planning page: preview each customer's effect, then one action."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from plans.models import Contract, ContractMigration
from tests.invoices.lab.pricing_book import AS_OF, build_book

pytestmark = pytest.mark.django_db

PAGE = "/admin/lab/migrations/"


@pytest.fixture
def book():
    with time_machine.travel(AS_OF, tick=False):
        yield build_book(candidate_published=True)


def test_the_preview_shows_when_each_moves_and_its_effect(admin_client, book):
    _plan, _v1, v2 = book
    with time_machine.travel(AS_OF, tick=False):
        response = admin_client.get(PAGE, {"plan": "team", "target": v2.pk,
                                           "customers": "a, e", "notice_days": 30})
    assert response.status_code == 200
    rows = {r["step"].customer: r for r in response.context["steps"]}
    assert set(rows) == {"a", "e"}
    assert rows["e"]["step"].effective_date == dt.date(2026, 12, 1)
    assert (rows["e"]["effect"]["current"], rows["e"]["effect"]["candidate"],
            rows["e"]["effect"]["margin_after"]) == ("30.00", "40.00", "-10.00")
    assert response.context["totals"]["more"] == 1
    assert b"No finished backtest" in response.content


def test_one_click_schedules_the_migrations(admin_client, book):
    _plan, _v1, v2 = book
    with time_machine.travel(AS_OF, tick=False):
        response = admin_client.post(PAGE, {"plan": "team", "target": v2.pk,
                                            "customers": "a e", "notice_days": 30,
                                            "action": "schedule"})
    assert response.status_code == 302
    assert sorted(ContractMigration.objects.values_list(
        "contract__customer__external_id", "effective_date")) == [
        ("a", dt.date(2026, 12, 1)), ("e", dt.date(2026, 12, 1))]


def test_grandfathering_from_the_page_changes_no_evergreen_contract(admin_client, book):
    _plan, _v1, v2 = book
    with time_machine.travel(AS_OF, tick=False):
        admin_client.post(PAGE, {"plan": "team", "target": v2.pk, "notice_days": 30,
                                 "action": "grandfather"})
    assert not Contract.objects.filter(renewal=Contract.Renewal.LATEST).exists()
    assert ContractMigration.objects.count() == 0


def test_an_unknown_customer_is_named(admin_client, book):
    _plan, _v1, v2 = book
    response = admin_client.get(PAGE, {"plan": "team", "target": v2.pk, "customers": "ghost",
                                       "notice_days": 30})
    assert "ghost" in str(response.context["form"].errors["customers"])
