"""The alerts admin (staff): thresholds added through the service, crossings read-only."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import time_machine

from invoices.alerts.models import AlertThreshold
from invoices.alerts.services import alerts_evaluate
from tests.invoices.alerts.conftest import NOW
from tests.invoices.billing_fixtures import add_events, at

pytestmark = pytest.mark.django_db


def test_staff_add_a_threshold_and_a_duplicate_is_refused(admin_client, customer):
    data = {"customer": customer.pk, "kind": "spend", "value": "250"}
    assert admin_client.post("/admin/alerts/alertthreshold/add/", data).status_code == 302
    assert list(AlertThreshold.objects.values_list("kind", "value")) == [("spend", D("250.00"))]
    response = admin_client.post("/admin/alerts/alertthreshold/add/", data)
    assert response.status_code == 200
    assert "already" in response.content.decode()
    assert "USD 250.00" in admin_client.get("/admin/alerts/alertthreshold/").content.decode()


def test_crossings_are_listed_read_only(admin_client, customer):
    add_events(customer, count=3500, when=at(2026, 10, 10))
    with time_machine.travel(NOW, tick=False):
        (row,) = alerts_evaluate(now=NOW)
    listing = admin_client.get("/admin/alerts/alertcrossing/").content.decode()
    assert "80% of the allowance used" in listing
    page = admin_client.get(f"/admin/alerts/alertcrossing/{row.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert "4322" in page.content.decode()  # allowance without trailing zeros
    assert admin_client.get("/admin/alerts/alertcrossing/add/").status_code == 403
