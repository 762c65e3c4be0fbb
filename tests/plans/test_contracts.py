"""Contract services: creation rules, scheduled migrations and renewal (SPEC sections 1, 3)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.models import Customer
from plans.models import Contract, ContractMigration
from plans.selectors import contract_version_at
from plans.services import (
    contract_cancel_migration,
    contract_create,
    contract_renew_due,
    contract_schedule_migration,
    contract_update,
)
from tests.factories import CustomerFactory, PlanFactory, make_version

pytestmark = pytest.mark.django_db

D = dt.date
OCT_1 = D(2026, 10, 1)
OCT_15 = D(2026, 10, 15)


def at(day: dt.date, hour: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


@pytest.fixture
def plan():
    return PlanFactory(code="team")


@pytest.fixture
def v1(plan):
    return make_version(plan=plan, effective_from=D(2026, 1, 1), seat_price="25.00")


@pytest.fixture
def customer():
    return CustomerFactory(external_id="acme")


def create(customer, version, start=OCT_1, end=None, **kwargs) -> Contract:
    return contract_create(customer=customer, plan_version=version, start_date=start,
                           end_date=end, **kwargs)


# --- contract_create -----------------------------------------------------------------------


def test_create_pins_version_and_anchors_on_start(customer, v1):
    contract = create(customer, v1, end=D(2027, 9, 30), committed_seats=3,
                      discount_percent=Decimal("10"))
    assert contract.plan_version == v1
    assert contract.anchor_date == D(2026, 10, 1)
    assert contract.status == Contract.Status.ACTIVE
    assert contract.discount_percent == Decimal("10")


@pytest.mark.parametrize("end", [D(2026, 10, 1), D(2026, 9, 30)])
def test_create_refuses_end_not_after_start(customer, v1, end):
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, end=end)
    assert "end_date" in errors_of(excinfo)
    assert not Contract.objects.exists()


def test_create_refuses_end_that_is_not_the_day_before_a_period_start(customer, v1):
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, end=D(2027, 9, 15))
    assert "last day of a billing period" in errors_of(excinfo)["end_date"][0]


@pytest.mark.parametrize("end", [D(2026, 2, 27), D(2026, 3, 30), D(2027, 1, 30)])
def test_create_accepts_ends_of_month_end_anchored_periods(customer, v1, end):
    # Anchored on Jan 31, periods start Feb 28, Mar 31, …, Jan 31 (clamped like Stripe).
    contract = create(customer, v1, start=D(2026, 1, 31), end=end)
    assert contract.end_date == end


def test_create_refuses_end_on_a_clamped_period_start(customer, v1):
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, start=D(2026, 1, 31), end=D(2026, 2, 28))
    assert "end_date" in errors_of(excinfo)


def test_create_refuses_negative_committed_seats(customer, v1):
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, committed_seats=-1)
    assert "committed_seats" in errors_of(excinfo)


def test_create_accepts_zero_committed_seats(customer, v1):
    assert create(customer, v1, committed_seats=0).committed_seats == 0


def test_create_refuses_a_version_in_another_currency(customer, plan):
    eur = make_version(plan=plan, currency="EUR")
    with pytest.raises(ValidationError) as excinfo:
        create(customer, eur)
    assert "priced in EUR" in errors_of(excinfo)["plan_version"][0]


def test_create_refuses_a_draft_version(customer, plan):
    draft = make_version(plan=plan, publish=False)
    with pytest.raises(ValidationError) as excinfo:
        create(customer, draft)
    assert "draft" in errors_of(excinfo)["plan_version"][0]


def test_create_refuses_an_archived_customer(v1):
    archived = CustomerFactory(archived=True)
    with pytest.raises(ValidationError) as excinfo:
        create(archived, v1)
    assert "archived" in errors_of(excinfo)["customer"][0]


def test_create_refuses_unknown_override_fields(customer, v1):
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, tax_rate=5)
    assert "tax_rate" in errors_of(excinfo)


def test_create_refuses_a_second_active_contract_for_the_customer(customer, v1):
    create(customer, v1)
    with pytest.raises(ValidationError) as excinfo:
        create(customer, v1, start=D(2026, 11, 1))
    assert "already has an active contract" in errors_of(excinfo)["customer"][0]
    assert Contract.objects.count() == 1


def test_create_allows_a_new_contract_once_the_previous_one_ended(customer, v1):
    old = create(customer, v1, start=D(2026, 1, 1), end=D(2026, 6, 30), auto_renew=False)
    contract_renew_due(now=at(D(2026, 7, 1)))
    old.refresh_from_db()
    assert old.status == Contract.Status.ENDED
    assert create(customer, v1, start=D(2026, 7, 1)).status == Contract.Status.ACTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_for_one_customer_make_exactly_one_contract():
    customer = CustomerFactory()
    version = make_version()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            create(Customer.objects.get(pk=customer.pk), version)
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["This customer already has an active contract.", "created"]
    assert Contract.objects.filter(customer=customer).count() == 1


# --- scheduled migrations ------------------------------------------------------------------


@pytest.fixture
def v2(plan):
    return make_version(plan=plan, effective_from=D(2026, 11, 1), seat_price="30.00")


@pytest.fixture
def contract(customer, v1):
    return create(customer, v1, start=D(2026, 10, 1), end=D(2027, 9, 30))


def schedule(contract, version, effective, today=OCT_15, **kwargs):
    return contract_schedule_migration(contract=contract, plan_version=version,
                                       effective_date=effective, today=today, **kwargs)


def test_migration_too_soon_names_the_earliest_effective_date(contract, v2):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v2, D(2026, 11, 1))
    message = errors_of(excinfo)["effective_date"][0]
    assert "2026-11-14" in message
    assert "30 days" in message
    assert not ContractMigration.objects.exists()


def test_migration_exactly_notice_days_later_is_accepted(contract, v2):
    migration = schedule(contract, v2, D(2026, 12, 1), today=D(2026, 11, 1))
    assert migration.effective_date == D(2026, 12, 1)
    assert migration.scheduled_on == D(2026, 11, 1)
    assert migration.notice_days == 30


def test_migration_one_day_short_of_notice_is_refused(contract, v2):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v2, D(2026, 12, 1), today=D(2026, 11, 2))
    assert "2026-12-02" in errors_of(excinfo)["effective_date"][0]


def test_migration_with_shorter_notice_can_be_sooner(contract, v2):
    assert schedule(contract, v2, D(2026, 11, 1), today=D(2026, 10, 25), notice_days=7)


def test_migration_must_start_on_a_period_start(contract, v2):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v2, D(2026, 12, 15))
    assert "period start" in errors_of(excinfo)["effective_date"][0]


def test_migration_after_the_contract_end_is_refused(contract, v2):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v2, D(2027, 10, 1))
    assert "after the contract's end" in errors_of(excinfo)["effective_date"][0]


def test_migration_to_the_version_already_in_force_is_refused(contract, v1):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v1, D(2026, 12, 1))
    assert "already on" in errors_of(excinfo)["plan_version"][0]


def test_migration_to_another_interval_is_refused(contract, plan):
    yearly = make_version(plan=plan, billing_interval="year", seat_price="300.00")
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, yearly, D(2026, 12, 1))
    assert "interval" in errors_of(excinfo)["plan_version"][0]


def test_migration_to_another_currency_is_refused(contract, plan):
    eur = make_version(plan=plan, currency="EUR")
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, eur, D(2026, 12, 1))
    assert "EUR" in errors_of(excinfo)["plan_version"][0]


def test_migration_to_a_draft_is_refused(contract, plan):
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, make_version(plan=plan, publish=False), D(2026, 12, 1))
    assert "draft" in errors_of(excinfo)["plan_version"][0]


def test_two_migrations_on_one_date_are_refused(contract, v2, plan):
    v3 = make_version(plan=plan, seat_price="35.00")
    schedule(contract, v2, D(2026, 12, 1))
    with pytest.raises(ValidationError) as excinfo:
        schedule(contract, v3, D(2026, 12, 1))
    assert "already scheduled" in errors_of(excinfo)["effective_date"][0]


def test_version_in_force_switches_on_the_effective_date(contract, v1, v2):
    schedule(contract, v2, D(2026, 12, 1))
    contract.refresh_from_db()
    assert contract_version_at(contract=contract, day=D(2026, 11, 30)) == v1
    assert contract_version_at(contract=contract, day=D(2026, 12, 1)) == v2
    assert contract_version_at(contract=contract, day=D(2027, 6, 1)) == v2
    assert contract.plan_version == v1  # the pin itself never changes


def test_canceled_migration_no_longer_applies(contract, v1, v2):
    migration = schedule(contract, v2, D(2026, 12, 1))
    contract_cancel_migration(migration=migration, today=D(2026, 11, 1))
    contract.refresh_from_db()
    assert contract_version_at(contract=contract, day=D(2027, 1, 1)) == v1


def test_a_migration_in_force_cannot_be_canceled(contract, v2):
    migration = schedule(contract, v2, D(2026, 12, 1))
    with pytest.raises(ValidationError) as excinfo:
        contract_cancel_migration(migration=migration, today=D(2026, 12, 1))
    assert "took effect on 2026-12-01" in errors_of(excinfo)["effective_date"][0]


def test_end_date_cannot_move_before_a_scheduled_migration(contract, v2):
    schedule(contract, v2, D(2027, 3, 1))
    with pytest.raises(ValidationError) as excinfo:
        contract_update(contract=contract, end_date=D(2027, 1, 31))
    assert "migration is scheduled" in errors_of(excinfo)["end_date"][0]


# --- renewal -------------------------------------------------------------------------------


def test_grandfathered_contract_renews_on_its_pinned_version(customer, v1, v2):
    old = create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    [new] = contract_renew_due(now=at(D(2027, 1, 1), 2))
    old.refresh_from_db()
    assert old.status == Contract.Status.ENDED
    assert new.plan_version == v1
    assert (new.start_date, new.end_date) == (D(2027, 1, 1), D(2027, 12, 31))
    assert new.renewed_from == old


def test_grandfather_keeps_the_version_in_force_at_the_end(customer, v1, v2):
    old = create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    schedule(old, v2, D(2026, 11, 1), today=D(2026, 9, 1))
    [new] = contract_renew_due(now=at(D(2027, 1, 1)))
    assert new.plan_version == v2


def test_latest_renewal_moves_to_the_current_version(customer, v1, v2):
    create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31), renewal="latest")
    [new] = contract_renew_due(now=at(D(2027, 1, 1)))
    assert new.plan_version == v2
    assert new.renewal == Contract.Renewal.LATEST


def test_latest_renewal_ignores_a_version_not_yet_effective(customer, v1, plan):
    make_version(plan=plan, effective_from=D(2027, 3, 1), seat_price="35.00")
    create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31), renewal="latest")
    [new] = contract_renew_due(now=at(D(2027, 1, 1)))
    assert new.plan_version == v1


def test_latest_renewal_stays_in_the_customers_currency(customer, v1, plan):
    make_version(plan=plan, effective_from=D(2026, 6, 1), currency="EUR")
    create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31), renewal="latest")
    [new] = contract_renew_due(now=at(D(2027, 1, 1)))
    assert new.plan_version == v1


def test_contract_without_auto_renew_just_ends(customer, v1):
    old = create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31), auto_renew=False)
    assert contract_renew_due(now=at(D(2027, 1, 1))) == []
    old.refresh_from_db()
    assert old.status == Contract.Status.ENDED
    assert Contract.objects.count() == 1


def test_contract_is_not_renewed_before_its_last_day_is_over(customer, v1):
    create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    assert contract_renew_due(now=at(D(2026, 12, 31), 23)) == []
    assert Contract.objects.get().status == Contract.Status.ACTIVE


def test_evergreen_contract_is_never_renewed(customer, v1):
    create(customer, v1, start=D(2026, 1, 1))
    assert contract_renew_due(now=at(D(2030, 1, 1))) == []


def test_running_renewal_twice_renews_once(customer, v1):
    create(customer, v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    first = contract_renew_due(now=at(D(2027, 1, 1)))
    second = contract_renew_due(now=at(D(2027, 1, 1), 1))
    assert len(first) == 1
    assert second == []
    assert Contract.objects.filter(customer=customer).count() == 2


def test_renewal_keeps_overrides_commitment_and_anchor(customer, v1):
    old = create(customer, v1, start=D(2026, 1, 31), end=D(2027, 1, 30), committed_seats=7,
                 seat_price=Decimal("22.50"), base_fee=Decimal("99"),
                 included_per_seat=Decimal("1500"), discount_percent=Decimal("12.5"),
                 overage_cap=Decimal("2000"), minimum_commitment=Decimal("500"))
    [new] = contract_renew_due(now=at(D(2027, 1, 31)))
    for name in ("committed_seats", "seat_price", "base_fee", "included_per_seat",
                 "discount_percent", "overage_cap", "minimum_commitment", "auto_renew",
                 "renewal", "anchor_date"):
        assert getattr(new, name) == getattr(old, name), name
    assert new.anchor_date == D(2026, 1, 31)


@pytest.mark.parametrize(("start", "end", "renewed"), [
    # 12 months anchored on Jan 31: the next term is the next 12 periods.
    (D(2026, 1, 31), D(2027, 1, 30), (D(2027, 1, 31), D(2028, 1, 30))),
    # One period anchored on Jan 31: Feb 28 starts the next one, which ends Mar 30.
    (D(2026, 1, 31), D(2026, 2, 27), (D(2026, 2, 28), D(2026, 3, 30))),
    # Three periods anchored on the 30th, crossing February.
    (D(2025, 11, 30), D(2026, 2, 27), (D(2026, 2, 28), D(2026, 5, 29))),
    (D(2026, 10, 1), D(2027, 9, 30), (D(2027, 10, 1), D(2028, 9, 30))),
])
def test_renewal_term_has_the_same_number_of_periods(customer, v1, start, end, renewed):
    create(customer, v1, start=start, end=end)
    [new] = contract_renew_due(now=at(end + dt.timedelta(days=1)))
    assert (new.start_date, new.end_date) == renewed
    assert new.anchor_date == start


def test_renewal_chain_follows_anchor_over_several_terms(customer, v1):
    create(customer, v1, start=D(2026, 1, 31), end=D(2026, 2, 27))
    ends = []
    day = D(2026, 2, 28)
    for _ in range(3):
        [new] = contract_renew_due(now=at(day))
        ends.append(new.end_date)
        day = new.end_date + dt.timedelta(days=1)
    assert ends == [D(2026, 3, 30), D(2026, 4, 29), D(2026, 5, 30)]


def test_renewal_can_be_limited_to_some_contracts(v1):
    first = create(CustomerFactory(), v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    second = create(CustomerFactory(), v1, start=D(2026, 1, 1), end=D(2026, 12, 31))
    [new] = contract_renew_due(now=at(D(2027, 1, 1)), contract_ids=[first.pk])
    assert new.renewed_from == first
    second.refresh_from_db()
    assert second.status == Contract.Status.ACTIVE


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_renewal_runs_renew_once():
    customer = CustomerFactory()
    version = make_version()
    old = create(customer, version, start=D(2026, 1, 1), end=D(2026, 12, 31))
    barrier = threading.Barrier(2)
    results: list[int] = []
    failures: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            results.append(len(contract_renew_due(now=at(D(2027, 1, 1)))))
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(results) == [0, 1]
    assert Contract.objects.filter(renewed_from=old).count() == 1
    assert Contract.objects.filter(customer=customer, status=Contract.Status.ACTIVE).count() == 1
