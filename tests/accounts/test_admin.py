"""The ops admin for customers, seats, customer users and API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import ApiKey, Customer, CustomerUser, Seat
from accounts.services import api_key_authenticate, api_key_create, seat_create
from plans.services import contract_create
from tests.factories import CustomerFactory, SeatFactory, admin_form_data, make_version

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def url(name: str, *args) -> str:
    return reverse(f"admin:accounts_{name}", args=args)


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# --- pages load ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "customer/", "customer/?q=acme", "customer/?currency=USD", "customer/?archived__exact=1",
    "customer/?has_contract=yes", "customer/?has_contract=no&o=5",
    "seat/", "seat/?active_now=yes", "seat/?active_now=no", "seat/?q=alice",
    "customeruser/", "customeruser/?role__exact=admin", "customeruser/?q=acme",
    "apikey/", "apikey/?state=revoked", "apikey/?scope__exact=ingest&q=ci",
    "customer/add/", "seat/add/", "customeruser/add/", "apikey/add/",
])
def test_pages_load(admin_client, path):
    customer = CustomerFactory(external_id="acme")
    SeatFactory(customer=customer, email="alice@acme.test")
    api_key_create(name="ci", scope="ingest")
    response = admin_client.get("/admin/accounts/" + path)
    assert response.status_code == 200


def test_change_pages_load(admin_client):
    customer = CustomerFactory()
    seat = SeatFactory(customer=customer)
    key, _ = api_key_create(name="ci", scope="admin")
    get_user_model().objects.create_user("viewer")
    link = CustomerUser.objects.create(user=get_user_model().objects.get(username="viewer"),
                                       customer=customer)
    for path in [url("customer_change", customer.pk), url("seat_change", seat.pk),
                 url("apikey_change", key.pk), url("customeruser_change", link.pk)]:
        assert admin_client.get(path).status_code == 200, path


# --- customers and their seats -------------------------------------------------------------


def test_customer_list_counts_seats_active_now(admin_client):
    customer = CustomerFactory(external_id="acme")
    SeatFactory(customer=customer, active_from=at(2026, 1, 1))
    SeatFactory(customer=customer, active_from=at(2026, 1, 1), active_until=at(2026, 11, 1))
    SeatFactory(customer=customer, active_from=at(2026, 12, 1))
    response = admin_client.get(url("customer_changelist"))
    [row] = response.context["cl"].result_list
    assert row._seats_now == 1


def test_customer_search_finds_by_external_id_name_and_email(admin_client):
    CustomerFactory(external_id="acme", name="Acme Corporation", email="ap@acme.test")
    CustomerFactory(external_id="globex", name="Globex", email="billing@globex.test")
    for query in ("acme", "Corporation", "ap@acme"):
        response = admin_client.get(url("customer_changelist") + f"?q={query}")
        assert [c.external_id for c in response.context["cl"].result_list] == ["acme"], query


def test_customer_add_with_seats_goes_through_the_services(admin_client):
    page = admin_client.get(url("customer_add"))
    data = admin_form_data(page, external_id="acme", name="Acme", email="ap@acme.test",
                           currency="USD", **{
                               "seats-TOTAL_FORMS": "1", "seats-0-email": "Alice@Acme.TEST",
                               "seats-0-name": "Alice", "seats-0-active_from_0": "2026-10-01",
                               "seats-0-active_from_1": "00:00:00"})
    response = admin_client.post(url("customer_add"), data)
    assert response.status_code == 302
    customer = Customer.objects.get(external_id="acme")
    seat = customer.seats.get()
    assert seat.email == "alice@acme.test"  # normalised by seat_create
    assert seat.active_from == at(2026, 10, 1)


def test_customer_add_refuses_overlapping_seats_of_one_person(admin_client):
    page = admin_client.get(url("customer_add"))
    data = admin_form_data(page, external_id="acme", name="Acme", email="ap@acme.test",
                           currency="USD", **{
                               "seats-TOTAL_FORMS": "2",
                               "seats-0-email": "alice@acme.test",
                               "seats-0-active_from_0": "2026-10-01",
                               "seats-0-active_from_1": "00:00:00",
                               "seats-1-email": "ALICE@acme.test",
                               "seats-1-active_from_0": "2026-10-15",
                               "seats-1-active_from_1": "00:00:00"})
    response = admin_client.post(url("customer_add"), data)
    assert response.status_code == 200
    assert "overlaps" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert not Customer.objects.exists()
    assert not Seat.objects.exists()


def test_seat_inline_can_end_a_seat_and_start_its_successor_in_one_save(admin_client):
    customer = CustomerFactory()
    seat = seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 1, 1))
    page = admin_client.get(url("customer_change", customer.pk))
    data = admin_form_data(page, **{
        "seats-0-active_until_0": "2026-11-01", "seats-0-active_until_1": "00:00:00",
        "seats-TOTAL_FORMS": "2", "seats-1-email": "alice@x.test",
        "seats-1-active_from_0": "2026-11-01", "seats-1-active_from_1": "00:00:00"})
    response = admin_client.post(url("customer_change", customer.pk), data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    seat.refresh_from_db()
    assert seat.active_until == at(2026, 11, 1)
    assert customer.seats.count() == 2


def test_seat_inline_refuses_an_overlap_with_an_existing_seat(admin_client):
    customer = CustomerFactory()
    seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 1, 1))
    page = admin_client.get(url("customer_change", customer.pk))
    data = admin_form_data(page, **{
        "seats-TOTAL_FORMS": "2", "seats-1-email": "alice@x.test",
        "seats-1-active_from_0": "2026-11-01", "seats-1-active_from_1": "00:00:00"})
    response = admin_client.post(url("customer_change", customer.pk), data)
    assert response.status_code == 200
    assert "overlaps" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert customer.seats.count() == 1


def test_seat_inline_hides_seats_that_ended_long_ago(admin_client):
    customer = CustomerFactory()
    seat_create(customer=customer, email="old@x.test", active_from=at(2025, 1, 1),
                active_until=at(2025, 6, 1))
    seat_create(customer=customer, email="new@x.test", active_from=at(2026, 1, 1))
    page = admin_client.get(url("customer_change", customer.pk))
    seats = page.context["inline_admin_formsets"][0].formset.queryset
    assert [s.email for s in seats] == ["new@x.test"]


def test_currency_change_is_refused_once_the_customer_has_a_contract(admin_client):
    customer = CustomerFactory()
    contract_create(customer=customer, plan_version=make_version(),
                    start_date=dt.date(2026, 10, 1))
    page = admin_client.get(url("customer_change", customer.pk))
    response = admin_client.post(url("customer_change", customer.pk),
                                 admin_form_data(page, currency="EUR"))
    assert response.status_code == 200
    assert "cannot change" in str(response.context["adminform"].form.errors["currency"])
    customer.refresh_from_db()
    assert customer.currency == "USD"


def test_archive_and_unarchive_actions(admin_client):
    first, second = CustomerFactory(), CustomerFactory()
    admin_client.post(url("customer_changelist"), {
        "action": "archive", "_selected_action": [first.pk, second.pk]})
    assert Customer.objects.filter(archived=True).count() == 2
    admin_client.post(url("customer_changelist"), {
        "action": "unarchive", "_selected_action": [first.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.archived, second.archived) == (False, True)


def test_seat_admin_filters_active_now(admin_client):
    customer = CustomerFactory()
    SeatFactory(customer=customer, email="now@x.test", active_from=at(2026, 1, 1))
    SeatFactory(customer=customer, email="gone@x.test", active_from=at(2026, 1, 1),
                active_until=at(2026, 2, 1))
    response = admin_client.get(url("seat_changelist") + "?active_now=yes")
    assert [s.email for s in response.context["cl"].result_list] == ["now@x.test"]
    response = admin_client.get(url("seat_changelist") + f"?customer__id__exact={customer.pk}"
                                "&active_now=no")
    assert [s.email for s in response.context["cl"].result_list] == ["gone@x.test"]


def test_seat_admin_change_goes_through_the_service(admin_client):
    customer = CustomerFactory()
    seat = seat_create(customer=customer, email="alice@x.test", active_from=at(2026, 1, 1))
    page = admin_client.get(url("seat_change", seat.pk))
    bad = admin_form_data(page, active_until_0="2025-12-01", active_until_1="00:00:00")
    response = admin_client.post(url("seat_change", seat.pk), bad)
    assert response.status_code == 200
    assert "after active_from" in str(response.context["adminform"].form.errors)
    good = admin_form_data(page, email="ALICE2@x.test")
    assert admin_client.post(url("seat_change", seat.pk), good).status_code == 302
    seat.refresh_from_db()
    assert seat.email == "alice2@x.test"


def test_seats_cannot_be_deleted(admin_client):
    seat = SeatFactory()
    response = admin_client.post(url("seat_delete", seat.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Seat.objects.filter(pk=seat.pk).exists()


# --- customer users ------------------------------------------------------------------------


def test_customer_user_add_creates_the_login_through_the_service(admin_client):
    customer = CustomerFactory(external_id="acme")
    data = {"customer": customer.pk, "role": "admin", "username": "acme-admin",
            "email": "admin@acme.test", "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42"}
    response = admin_client.post(url("customeruser_add"), data)
    assert response.status_code == 302
    link = CustomerUser.objects.get()
    assert (link.customer, link.role, link.user.username) == (customer, "admin", "acme-admin")
    assert link.user.check_password("a-long-Passphrase-42")


def test_customer_user_add_checks_the_passwords(admin_client):
    customer = CustomerFactory()
    data = {"customer": customer.pk, "role": "viewer", "username": "someone",
            "password1": "a-long-Passphrase-42", "password2": "different-Passphrase-42"}
    response = admin_client.post(url("customeruser_add"), data)
    assert response.status_code == 200
    assert "differ" in str(response.context["adminform"].form.errors)
    assert not get_user_model().objects.filter(username="someone").exists()


# --- API keys ------------------------------------------------------------------------------


def test_api_key_created_in_admin_shows_the_raw_key_once_and_stores_only_its_hash(
        admin_client):
    response = admin_client.post(url("apikey_add"), {"name": "CI ingest", "scope": "ingest"},
                                 follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    match = re.search(r"<code>(bk_ingest_[A-Za-z0-9_-]+)</code>", page)
    assert match, page
    raw_key = match.group(1)
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in str([getattr(key, f.attname) for f in ApiKey._meta.fields])
    assert api_key_authenticate(raw_key=raw_key, now=NOW) == key
    # Once: neither the list nor the key's page shows it (or its hash) again.
    again = admin_client.get(url("apikey_changelist")).content.decode()
    detail = admin_client.get(url("apikey_change", key.pk)).content.decode()
    for text in (again, detail):
        assert raw_key not in text
        assert key.key_hash not in text
    assert key.prefix in detail


def test_api_key_add_validates_the_name(admin_client):
    response = admin_client.post(url("apikey_add"), {"name": "", "scope": "admin"})
    assert response.status_code == 200
    assert not ApiKey.objects.exists()


def test_api_keys_are_immutable_once_issued(admin_client):
    key, _ = api_key_create(name="ci", scope="ingest")
    response = admin_client.post(url("apikey_change", key.pk), {"name": "x", "scope": "admin"})
    assert response.status_code == 403
    key.refresh_from_db()
    assert (key.name, key.scope) == ("ci", "ingest")


def test_revoke_action_revokes_keys(admin_client):
    key, raw_key = api_key_create(name="ci", scope="ingest")
    admin_client.post(url("apikey_changelist"), {"action": "revoke",
                                                 "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at == NOW
    assert api_key_authenticate(raw_key=raw_key, now=NOW) is None
