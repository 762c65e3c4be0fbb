"""Seat services: intervals, overlap per person, and the database guard on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import Customer, Seat
from accounts.services import seat_create, seat_update
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def customer():
    return CustomerFactory(external_id="acme")


def test_seat_email_is_normalised(customer):
    seat = seat_create(customer=customer, email="  Alice@Acme.TEST ", active_from=at(2026, 10, 1))
    assert seat.email == "alice@acme.test"


def test_seat_must_end_after_it_starts(customer):
    with pytest.raises(ValidationError) as excinfo:
        seat_create(customer=customer, email="a@x.test", active_from=at(2026, 10, 1),
                    active_until=at(2026, 10, 1))
    assert "active_until" in excinfo.value.message_dict
    assert not Seat.objects.exists()


@pytest.mark.parametrize(("start", "until"), [
    (at(2026, 10, 15), None),  # inside an open-ended seat
    (at(2026, 9, 1), at(2026, 10, 2)),  # overlaps its start
])
def test_overlapping_seat_of_one_person_is_refused(customer, start, until):
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 1))
    with pytest.raises(ValidationError) as excinfo:
        seat_create(customer=customer, email="ALICE@x.test", active_from=start, active_until=until)
    assert "overlaps" in excinfo.value.message_dict["active_from"][0]


def test_back_to_back_seats_of_one_person_are_fine(customer):
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 1),
                active_until=at(2026, 10, 20))
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 20))
    assert customer.seats.count() == 2


def test_same_email_at_two_customers_is_fine(customer):
    other = CustomerFactory()
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 1))
    seat_create(customer=other, email="alice@x.test", active_from=at(2026, 10, 1))
    assert Seat.objects.count() == 2


def test_update_checks_overlap_with_the_persons_other_seats(customer):
    first = seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 1),
                        active_until=at(2026, 10, 10))
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 20))
    with pytest.raises(ValidationError):
        seat_update(seat=first, active_until=at(2026, 10, 25))
    first.refresh_from_db()
    assert first.active_until == at(2026, 10, 10)
    seat_update(seat=first, active_until=at(2026, 10, 20))  # touching is fine


def test_update_refuses_unknown_fields(customer):
    seat = seat_create(customer=customer, email="a@x.test", active_from=at(2026, 10, 1))
    with pytest.raises(ValidationError) as excinfo:
        seat_update(seat=seat, customer=CustomerFactory())
    assert "customer" in excinfo.value.message_dict


@pytest.mark.postgres
def test_database_refuses_overlapping_seats_written_past_the_service(customer):
    Seat.objects.create(customer=customer, email="alice@x.test", active_from=at(2026, 10, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Seat.objects.create(customer=customer, email="Alice@x.test",
                            active_from=at(2026, 10, 5))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_seat_creates_for_one_person_make_one_seat():
    customer = CustomerFactory()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait()
            seat_create(customer=Customer.objects.get(pk=customer.pk), email="alice@x.test",
                        active_from=at(2026, 10, 1))
            outcomes.append("created")
        except (ValidationError, IntegrityError):
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "refused"]
    assert Seat.objects.filter(customer=customer).count() == 1
