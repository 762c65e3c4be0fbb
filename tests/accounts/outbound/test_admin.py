"""The outbound webhooks admin: endpoints and their secret, deliveries failed first, replay."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from accounts.outbound.models import Delivery, Endpoint
from accounts.outbound.services import deliveries_create, endpoint_create

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)


def test_creating_an_endpoint_generates_a_secret_shown_once_and_revealable(admin_client):
    response = admin_client.post("/admin/outbound/endpoint/add/", {
        "name": "CRM", "url": "https://crm.example.test/hooks", "event_types": ["invoice.paid"],
        "active": "on",
    }, follow=True)
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and len(endpoint.secret) > 40
    assert endpoint.event_types == ["invoice.paid"]
    assert endpoint.secret in response.content.decode()  # the confirmation message
    page = admin_client.get(f"/admin/outbound/endpoint/{endpoint.pk}/change/").content.decode()
    assert re.search(r"<details><summary>Reveal</summary><code>whsec_", page)


def test_an_endpoint_url_must_be_http(admin_client):
    response = admin_client.post("/admin/outbound/endpoint/add/", {
        "name": "x", "url": "ftp://crm.example.test/", "active": "on"})
    assert response.status_code == 200 and not Endpoint.objects.exists()


def _delivery(endpoint, event_id: str, status: str) -> Delivery:
    (pk,) = deliveries_create(event_type="invoice.paid", event_id=event_id, payload={}, now=NOW)
    Delivery.objects.filter(pk=pk).update(status=status)
    return Delivery.objects.get(pk=pk)


@pytest.fixture
def endpoint():
    return endpoint_create(name="gone", url="http://127.0.0.1:9/nothing-listens")


def test_failed_deliveries_are_listed_first(admin_client, endpoint):
    _delivery(endpoint, "invoice.paid:ok", "succeeded")
    _delivery(endpoint, "invoice.paid:bad", "failed")
    _delivery(endpoint, "invoice.paid:wait", "pending")
    body = admin_client.get("/admin/outbound/delivery/").content.decode()
    order = [body.index(f"invoice.paid:{name}") for name in ("bad", "wait", "ok")]
    assert order == sorted(order)
    assert "invoice.paid:ok" not in admin_client.get(
        "/admin/outbound/delivery/?status=failed").content.decode()


def test_replay_action_and_button_queue_a_failed_delivery_again(
        admin_client, endpoint, django_capture_on_commit_callbacks):
    failed = _delivery(endpoint, "invoice.paid:1", "failed")
    done = _delivery(endpoint, "invoice.paid:2", "succeeded")
    page = admin_client.get(f"/admin/outbound/delivery/{failed.pk}/change/").content.decode()
    assert f"/admin/outbound/delivery/{failed.pk}/replay/" in page
    assert "/replay/" not in admin_client.get(
        f"/admin/outbound/delivery/{done.pk}/change/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/outbound/delivery/{failed.pk}/replay/")
    assert response.status_code == 302
    failed.refresh_from_db()
    # Replayed, then tried at once by the (eager) task: the receiver is down, so it
    # waits for its next attempt, with the attempt logged.
    assert failed.status == "pending" and failed.attempts == 1
    assert failed.attempt_log.count() == 1

    Delivery.objects.filter(pk=failed.pk).update(status="failed")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/outbound/delivery/", {
            "action": "replay", "_selected_action": [failed.pk, done.pk]})
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.status == "pending" and done.status == "succeeded"


def test_a_get_on_the_replay_url_changes_nothing(admin_client, endpoint):
    failed = _delivery(endpoint, "invoice.paid:1", "failed")
    assert admin_client.get(f"/admin/outbound/delivery/{failed.pk}/replay/").status_code == 405
    failed.refresh_from_db()
    assert failed.status == "failed"
