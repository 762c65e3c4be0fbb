"""The portal's Alerts page and the dashboard's alerts panel."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from accounts.models import CustomerUser
from invoices.alerts.models import AlertRecipient, AlertThreshold
from invoices.alerts.services import alert_settings_update, alerts_evaluate
from invoices.alerts.views import split_list
from tests.factories import CustomerFactory
from tests.invoices.alerts.conftest import NOW
from tests.invoices.billing_fixtures import add_events, at
from tests.invoices.portal.conftest import _client_of, _member

pytestmark = pytest.mark.django_db
URL = "/alerts/"


@pytest.fixture
def admin_client(customer) -> Client:
    return _client_of(_member(customer, "acme-admin", CustomerUser.Role.ADMIN))


@pytest.fixture
def viewer_client(customer) -> Client:
    return _client_of(_member(customer, "acme-viewer", CustomerUser.Role.VIEWER))


def test_the_page_is_the_named_portal_url():
    assert reverse("portal-alerts") == URL


def test_a_viewer_reads_the_defaults_and_has_no_form(viewer_client, customer):
    response = viewer_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "80 %, 100 % of each allowance" in body and "(the defaults)" in body
    assert customer.email in body and 'id="alert-form"' not in body
    assert 'id="read-only"' in body


def test_a_viewer_cannot_change_the_alerts(viewer_client, customer):
    response = viewer_client.post(URL, {"usage_percents": "50"})
    assert response.status_code == 403
    assert not AlertThreshold.objects.exists()


def test_an_admin_saves_thresholds_and_recipients(admin_client, customer):
    page = admin_client.get(URL)
    assert 'id="alert-form"' in page.content.decode() and "csrfmiddlewaretoken" in (
        page.content.decode())
    response = admin_client.post(URL, {
        "usage_percents": "50, 90", "spend_amounts": "1,500 200.5",
        "projected_amounts": "", "recipients": "ops@acme.test\nCFO@acme.test",
    })
    assert response.status_code == 302 and response.url == URL
    assert sorted(AlertThreshold.objects.values_list("kind", "value")) == [
        ("spend", D("200.50")), ("spend", D("1500.00")),
        ("usage_percent", D("50.00")), ("usage_percent", D("90.00"))]
    assert sorted(AlertRecipient.objects.values_list("email", flat=True)) == [
        "cfo@acme.test", "ops@acme.test"]
    body = admin_client.get(URL).content.decode()
    assert "50 %, 90 % of each allowance" in body and "(the defaults)" not in body
    assert "USD 200.50, USD 1,500.00" in body
    assert 'value="50, 90"' in body  # the form shows what is saved


def test_a_bad_value_is_a_400_naming_the_field_and_changes_nothing(admin_client, customer):
    alert_settings_update(customer=customer, usage_percents=["70"])
    response = admin_client.post(URL, {"usage_percents": "80, lots", "recipients": "x@y.test"})
    assert response.status_code == 400
    assert "is not a number" in response.content.decode()
    response = admin_client.post(URL, {"recipients": "not-an-email"})
    assert response.status_code == 400 and 'id="error-recipients"' in response.content.decode()
    assert list(AlertThreshold.objects.values_list("value", flat=True)) == [D("70.00")]


def test_the_form_needs_a_csrf_token(customer):
    membership = _member(customer, "acme-admin", CustomerUser.Role.ADMIN)
    client = Client(enforce_csrf_checks=True)
    client.force_login(membership.user)
    assert client.post(URL, {"usage_percents": "50"}).status_code == 403
    assert not AlertThreshold.objects.exists()


def test_another_customers_admin_sees_and_changes_only_their_own(customer, admin_client):
    alert_settings_update(customer=customer, spend_amounts=["777"],
                          recipients=["secret@acme.test"])
    globex = CustomerFactory(external_id="globex", email="billing@globex.test")
    other = _client_of(_member(globex, "globex-admin", CustomerUser.Role.ADMIN))
    body = other.get(URL + f"?customer={customer.pk}").content.decode()
    assert "secret@acme.test" not in body and "777" not in body
    assert "billing@globex.test" in body
    other.post(URL, {"spend_amounts": "5"})
    assert list(AlertThreshold.objects.filter(customer=customer).values_list(
        "value", flat=True)) == [D("777.00")]


def test_staff_and_strangers_get_no_alerts_page(customer):
    staff = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(URL).status_code == 404
    assert Client().get(URL).status_code == 302  # to the login page


def test_split_list_reads_commas_spaces_and_lines_but_keeps_thousands():
    assert split_list("80, 100") == ["80", "100"]
    assert split_list("1,500 200.5\n3,000,000") == ["1,500", "200.5", "3,000,000"]
    assert split_list("a@x.test,b@x.test\nc@x.test") == ["a@x.test", "b@x.test", "c@x.test"]
    assert split_list("  ") == []


def test_the_dashboard_panel_lists_this_periods_crossings(
        customer, django_capture_on_commit_callbacks):
    add_events(customer, count=3500, when=at(2026, 10, 10))
    with time_machine.travel(NOW, tick=False):
        alerts_evaluate(now=NOW)
    template = Template('{% include "portal/_alerts.html" %}')
    html = template.render(Context({"customer": customer, "now": NOW}))
    assert 'data-key="usage:tasks:80"' in html
    assert "Tasks completed: 80% of the allowance used (3,500 of 4,322)" in html
    assert 'href="/alerts/"' in html
    # Next period: nothing crossed yet there.
    later = Template('{% include "portal/_alerts.html" %}').render(
        Context({"customer": customer, "now": at(2026, 11, 2)}))
    assert 'id="alerts-none"' in later and "usage:tasks:80" not in later


def test_the_ops_count_of_alerts_sent_counts_crossings_since_a_moment(customer):
    from invoices.alerts.selectors import alert_crossing_count
    add_events(customer, count=4400, when=at(2026, 10, 10))
    with time_machine.travel(NOW, tick=False):
        alerts_evaluate(now=NOW)
    assert alert_crossing_count(since=at(2026, 10, 1)) == 2
    assert alert_crossing_count(since=NOW + NOW.resolution) == 0
