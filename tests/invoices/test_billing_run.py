"""Billing runs (SPEC 4): which periods get an invoice, when, and exactly once."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal as D

import pytest
import time_machine
from django.db import connection
from django.test import override_settings

from invoices.models import BillingRun, Invoice
from invoices.services import billing_run, invoice_finalize, invoice_hold, invoice_rerate
from invoices.services.billing_run import billing_due
from plans.services import contract_schedule_migration
from tests.factories import CustomerFactory, PlanFactory
from tests.invoices.billing_fixtures import (
    add_events,
    at,
    team_version,
    worked_example,
)

pytestmark = pytest.mark.django_db

NOV_1_1AM = at(2026, 11, 1, 1)


def test_worked_example_through_the_database_gives_216_80():
    contract = worked_example()

    run = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    invoice = Invoice.objects.get(contract=contract)
    assert run.invoices_created == 1 and run.status == BillingRun.Status.DONE
    assert invoice.status == "draft" and invoice.number is None
    assert invoice.total == D("216.80")
    assert (invoice.period_start, invoice.period_end) == (at(2026, 10, 1), at(2026, 11, 1))
    seat, tasks = invoice.lines.all()
    assert (seat.kind, seat.quantity, seat.unit_price, seat.amount) == (
        "seat", D("4.322581"), D("40.00"), D("172.90"))
    assert (tasks.kind, tasks.metric, tasks.value, tasks.included, tasks.billable) == (
        "usage", "tasks", 5200, 4322, 878)
    assert (tasks.unit_price, tasks.amount) == (D("0.05"), D("43.90"))
    assert invoice.usage_snapshot == {"tasks": "5200"}
    assert invoice.seat_equivalents == D("4.322581")


def test_period_is_not_billed_before_the_grace_time_has_passed():
    worked_example()

    with override_settings(BILLING_GRACE_SECONDS=3600):
        early = billing_run(as_of=at(2026, 11, 1, 0, 59), now=at(2026, 11, 1, 0, 59))
        assert early.invoices_created == 0 and not Invoice.objects.exists()
        on_time = billing_run(as_of=at(2026, 11, 1, 1, 0), now=at(2026, 11, 1, 1, 0))
    assert on_time.invoices_created == 1


def test_running_twice_makes_one_invoice_per_contract_period():
    contract = worked_example()

    first = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    second = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    assert (first.invoices_created, second.invoices_created) == (1, 0)
    assert Invoice.objects.filter(contract=contract).count() == 1


def test_every_missed_period_is_billed_once_in_order():
    contract = worked_example(tasks=0)

    run = billing_run(as_of=at(2027, 1, 15), now=at(2027, 1, 15))

    starts = list(
        Invoice.objects.filter(contract=contract).order_by("period_start")
        .values_list("period_start", flat=True)
    )
    assert starts == [at(2026, 10, 1), at(2026, 11, 1), at(2026, 12, 1)]
    assert run.periods_due == 3 and run.invoices_created == 3


def test_contract_term_end_stops_billing_and_ended_contracts_still_get_their_last_period():
    contract = worked_example(end_date=dt.date(2026, 11, 30), auto_renew=False)
    contract.status = "ended"
    contract.save()

    billing_run(as_of=at(2027, 3, 1), now=at(2027, 3, 1))

    assert Invoice.objects.filter(contract=contract).count() == 2


def test_canceled_contracts_are_not_billed():
    contract = worked_example()
    contract.status = "canceled"
    contract.save()

    assert billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM).invoices_created == 0


def test_draft_is_rerated_when_usage_changes_and_late_events_for_a_draft_are_not_late_lines():
    contract = worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    invoice = Invoice.objects.get(contract=contract)

    add_events(contract.customer, count=100, when=at(2026, 10, 31, 23),
               received_at=at(2026, 11, 1, 1, 30))
    run = billing_run(as_of=at(2026, 11, 1, 2), now=at(2026, 11, 1, 2))

    invoice.refresh_from_db()
    assert run.drafts_rerated == 1 and run.invoices_created == 0
    assert invoice.total == D("221.80")
    assert invoice.usage_snapshot == {"tasks": "5300"}
    assert [line.kind for line in invoice.lines.all()] == ["seat", "usage"]


def test_unchanged_draft_is_not_rewritten():
    worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    rated_at = Invoice.objects.get().rated_at

    with time_machine.travel(at(2026, 11, 1, 5), tick=False):
        run = billing_run(as_of=at(2026, 11, 1, 5), now=at(2026, 11, 1, 5))

    assert run.drafts_rerated == 0
    assert Invoice.objects.get().rated_at == rated_at


def test_held_draft_is_not_rerated_by_the_run_but_can_be_rerated_on_demand():
    contract = worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    invoice = invoice_hold(invoice=Invoice.objects.get())
    add_events(contract.customer, count=20, when=at(2026, 10, 30))

    billing_run(as_of=at(2026, 11, 1, 2), now=at(2026, 11, 1, 2))
    assert Invoice.objects.get().total == D("216.80")

    invoice = invoice_rerate(invoice=invoice, now=at(2026, 11, 1, 3))
    assert invoice.total == D("217.80")
    assert invoice.lines.get(kind="usage").value == 5220


def test_rerate_refuses_a_finalized_invoice():
    worked_example()
    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
    invoice = invoice_finalize(invoice=Invoice.objects.get(), now=NOV_1_1AM)

    with pytest.raises(Exception, match="only draft"):
        invoice_rerate(invoice=invoice, now=NOV_1_1AM)


def test_period_is_rated_on_the_version_in_force_at_its_start():
    plan = PlanFactory(code="team")
    v1 = team_version(plan=plan)
    v2 = team_version(plan=plan, seat_price="50.00", effective_from=dt.date(2026, 11, 1))
    contract = worked_example(version=v1)
    contract_schedule_migration(contract=contract, plan_version=v2,
                                effective_date=dt.date(2026, 12, 1), today=dt.date(2026, 10, 5))

    billing_run(as_of=at(2027, 1, 1, 1), now=at(2027, 1, 1, 1))

    by_start = {i.period_start.month: i for i in Invoice.objects.filter(contract=contract)}
    assert by_start[10].plan_version == v1 and by_start[11].plan_version == v1
    assert by_start[12].plan_version == v2
    assert by_start[12].lines.get(kind="seat").unit_price == D("50.00")


def test_grandfathered_contract_stays_on_its_pinned_version_after_a_new_one_is_published():
    plan = PlanFactory(code="team")
    v1 = team_version(plan=plan)
    contract = worked_example(version=v1)
    team_version(plan=plan, seat_price="99.00", effective_from=dt.date(2026, 10, 15))

    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))

    assert {i.plan_version for i in Invoice.objects.filter(contract=contract)} == {v1}


def test_contract_overrides_are_applied_and_stored_on_the_invoice():
    contract = worked_example(seat_price="30.00", discount_percent="10")

    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    invoice = Invoice.objects.get(contract=contract)
    # 4.322581 × 30 = 129.68; tasks 43.90; subtotal 173.58; discount −17.36
    assert [(line.kind, line.amount) for line in invoice.lines.all()] == [
        ("seat", D("129.68")), ("usage", D("43.90")), ("discount", D("-17.36"))]
    assert invoice.total == D("156.22")
    assert invoice.overrides["seat_price"] == "30" and invoice.overrides["committed_seats"] == 3


def test_one_customers_failure_is_recorded_and_the_others_are_billed(monkeypatch):
    worked_example(external_id="good")
    bad = worked_example(external_id="bad")
    from invoices.rating import drafts

    real = drafts.rate_period

    def explode(**kwargs):
        if any("bad" in s.email for s in kwargs["seats"]):
            raise RuntimeError("boom")
        return real(**kwargs)

    monkeypatch.setattr(drafts, "rate_period", explode)
    run = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    assert run.status == BillingRun.Status.FAILED
    assert run.invoices_created == 1
    assert run.failures == [{"customer": "bad", "error": "RuntimeError: boom"}]
    assert not Invoice.objects.filter(contract=bad).exists()


def test_customers_are_billed_in_chunks_with_the_same_result():
    for n in range(5):
        worked_example(external_id=f"c{n}")

    run = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM, size=2)

    assert (run.chunks_total, run.chunks_done, run.invoices_created) == (3, 3, 5)
    assert set(Invoice.objects.values_list("total", flat=True)) == {D("216.80")}


def test_due_list_names_customers_with_due_periods_or_open_drafts():
    due_contract = worked_example(external_id="due")
    worked_example(external_id="later", start=dt.date(2026, 10, 20))

    due = billing_due(as_of=NOV_1_1AM)

    assert due.customer_ids == [due_contract.customer_id] and due.periods_due == 1


def test_seat_only_plan_and_customer_without_seats_bills_committed_seats():
    version = team_version(seat_price="25.00")
    customer = CustomerFactory(external_id="empty")
    from plans.services import contract_create

    contract_create(customer=customer, plan_version=version, start_date=dt.date(2026, 10, 1),
                    committed_seats=2)

    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    invoice = Invoice.objects.get(customer=customer)
    assert invoice.total == D("50.00")
    assert invoice.lines.get(kind="usage").included == 2000


def test_billing_run_task_fans_out_and_closes_the_run():
    from invoices.tasks import run_billing

    worked_example()
    with time_machine.travel(NOV_1_1AM, tick=False):
        run_id = run_billing()

    run = BillingRun.objects.get(pk=run_id)
    assert run.status == BillingRun.Status.DONE and run.invoices_created == 1


def test_billing_run_command_bills_as_of_the_given_time(capsys):
    from django.core.management import call_command

    worked_example()
    call_command("billing_run", "--as-of", "2026-11-01T01:00:00Z")

    assert "invoices created: 1" in capsys.readouterr().out
    assert Invoice.objects.get().total == D("216.80")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_make_one_invoice_per_contract_period():
    for n in range(6):
        worked_example(external_id=f"race{n}")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Invoice.objects.count() == 6
    assert sum(BillingRun.objects.values_list("invoices_created", flat=True)) == 6
    for invoice in Invoice.objects.all():
        assert invoice.total == D("216.80") and invoice.lines.count() == 2


@pytest.mark.postgres
def test_worked_example_through_the_window_scan_gives_216_80(settings):
    settings.BILLING_USAGE_SCAN_MIN_CUSTOMERS = 1
    version = team_version()
    contracts = [worked_example(external_id=f"scan{n}", version=version) for n in range(3)]

    billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    for contract in contracts:
        invoice = Invoice.objects.get(contract=contract)
        assert invoice.total == D("216.80") and invoice.usage_snapshot == {"tasks": "5200"}


def test_a_contract_with_more_periods_due_than_the_default_cap_is_refused_not_billed():
    worked_example(external_id="old", start=dt.date(2023, 7, 1))  # 40 monthly periods due
    worked_example(external_id="acme")

    run = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    assert run.status == BillingRun.Status.FAILED and run.invoices_created == 1
    (failure,) = run.failures
    assert failure["customer"] == "old"
    assert failure["error"].startswith("PeriodLimitExceeded: contract ")
    assert "40 periods due, more than the 36 one run may bill" in failure["error"]
    assert not Invoice.objects.filter(customer__external_id="old").exists()


def test_a_contract_with_exactly_the_cap_of_periods_due_is_billed(settings):
    settings.BILLING_MAX_PERIODS_PER_CONTRACT_RUN = 6
    worked_example(start=dt.date(2026, 5, 1))  # May to October

    run = billing_run(as_of=NOV_1_1AM, now=NOV_1_1AM)

    assert run.status == BillingRun.Status.DONE and run.invoices_created == 6
