"""Outbound deliveries against a real HTTP receiver on 127.0.0.1 (nothing leaves the box)."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from accounts.outbound.models import Delivery, DeliveryAttempt
from accounts.outbound.publish import outbound_publish, outbound_replay
from accounts.outbound.services import (
    BACKOFF,
    MAX_ATTEMPTS,
    body_of,
    deliveries_create,
    delivery_send,
    endpoint_create,
)
from accounts.outbound.signing import SIGNATURE_HEADER, verify
from accounts.outbound.tasks import deliver_due_webhooks

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def publish(event_id: str = "invoice.finalized:1", event_type: str = "invoice.finalized",
            payload: dict | None = None, now: dt.datetime = NOW) -> list[int]:
    return outbound_publish(event_type=event_type, event_id=event_id,
                            payload=payload or {"invoice": {"id": "1", "total": "212.50"}},
                            now=now)


def test_an_event_reaches_the_receiver_signed_with_the_endpoint_secret(
        receiver, django_capture_on_commit_callbacks):
    endpoint = endpoint_create(name="crm", url=receiver.url)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        publish()
    (request,) = receiver.requests
    assert request.path == "/hooks/billing"
    assert request.headers["X-Billing-Event"] == "invoice.finalized"
    assert request.headers["X-Billing-Event-Id"] == "invoice.finalized:1"
    header = request.headers[SIGNATURE_HEADER]
    assert header.startswith(f"t={int(NOW.timestamp())},v1=")
    assert verify(secret=endpoint.secret, header=header, body=request.body,
                  now=int(NOW.timestamp()))
    assert not verify(secret="whsec_wrong", header=header, body=request.body,
                      now=int(NOW.timestamp()))
    assert not verify(secret=endpoint.secret, header=header, body=request.body + b" ",
                      now=int(NOW.timestamp()))
    assert json.loads(request.body) == {
        "id": "invoice.finalized:1", "type": "invoice.finalized",
        "created": "2026-11-15T12:00:00Z", "data": {"invoice": {"id": "1", "total": "212.50"}},
    }
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("succeeded", 1, None)
    (attempt,) = delivery.attempt_log.all()
    assert (attempt.status_code, attempt.succeeded, attempt.response_excerpt) == (200, True, "ok")


def test_an_old_signature_is_refused():
    body = b"{}"
    from accounts.outbound.signing import signature_header
    header = signature_header(secret="s", timestamp=1000, body=body)
    assert verify(secret="s", header=header, body=body, now=1200)
    assert not verify(secret="s", header=header, body=body, now=1000 + 301)
    assert not verify(secret="s", header="v1=abc", body=body, now=1000)


def test_only_active_endpoints_subscribed_to_the_type_get_a_delivery(receiver):
    every = endpoint_create(name="all", url=receiver.url)
    invoices = endpoint_create(name="invoices", url=receiver.url,
                               event_types=["invoice.paid", "invoice.finalized"])
    endpoint_create(name="alerts only", url=receiver.url, event_types=["alert.triggered"])
    endpoint_create(name="off", url=receiver.url, active=False)
    publish()
    assert sorted(Delivery.objects.values_list("endpoint_id", flat=True)) == sorted(
        [every.pk, invoices.pk])


def test_publishing_the_same_event_twice_delivers_it_once(
        receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="crm", url=receiver.url)
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        first = publish()
        second = publish(now=NOW + dt.timedelta(minutes=3))
    assert len(first) == 1 and second == first
    assert Delivery.objects.count() == 1
    assert len(receiver.requests) == 1
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        assert publish() == []  # delivered already: nothing pending to queue
    assert len(receiver.requests) == 1


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValidationError):
        publish(event_type="invoice.exploded")


def test_a_failing_receiver_is_retried_with_backoff_and_every_attempt_is_logged(
        receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="crm", url=receiver.url)
    receiver.answers = [500, 503]
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        publish()
    delivery = Delivery.objects.get()
    # The task queued itself for later; with eager tasks it ran at once and found it not due.
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == NOW + BACKOFF[0]
    assert delivery.last_error == "HTTP 500"
    assert len(receiver.requests) == 1

    with time_machine.travel(NOW + dt.timedelta(seconds=59), tick=False):
        assert deliver_due_webhooks() == 0  # not due yet
    second = NOW + BACKOFF[0]
    with time_machine.travel(second, tick=False):
        assert deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == second + BACKOFF[1]
    with time_machine.travel(second + BACKOFF[1], tick=False):
        assert deliver_due_webhooks() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("succeeded", 3, "")
    log = list(delivery.attempt_log.order_by("attempted_at").values_list(
        "attempted_at", "status_code", "succeeded", "error", "response_excerpt"))
    assert log == [
        (NOW, 500, False, "HTTP 500", "receiver says no"),
        (second, 503, False, "HTTP 503", "receiver says no"),
        (second + BACKOFF[1], 200, True, "", "ok"),
    ]
    assert len(receiver.requests) == 3
    # Each attempt is signed at its own time.
    stamps = [r.headers[SIGNATURE_HEADER].split(",")[0] for r in receiver.requests]
    assert stamps == [f"t={int(t.timestamp())}" for t, *_ in log]


def test_a_receiver_that_is_down_is_logged_as_an_error():
    endpoint_create(name="gone", url="http://127.0.0.1:9/nothing-listens-here")
    (delivery_id,) = publish()
    outcome = delivery_send(delivery_id=delivery_id, now=NOW)
    assert outcome.sent and not outcome.succeeded and outcome.retry_in == BACKOFF[0]
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None and "URLError" in attempt.error


def fail_for_good(delivery_id: int) -> dt.datetime:
    at = NOW
    for attempt in range(MAX_ATTEMPTS):
        outcome = delivery_send(delivery_id=delivery_id, now=at)
        assert outcome.sent
        if attempt < MAX_ATTEMPTS - 1:
            at += outcome.retry_in
    return at


def test_a_delivery_fails_after_the_last_attempt_and_a_replay_delivers_it(
        receiver, django_capture_on_commit_callbacks):
    endpoint_create(name="crm", url=receiver.url)
    receiver.answers = [500] * MAX_ATTEMPTS
    (delivery_id,) = publish()
    last = fail_for_good(delivery_id)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 7, None)
    assert last - NOW == sum(BACKOFF, dt.timedelta())
    assert deliver_due_webhooks() == 0

    replay_at = last + dt.timedelta(days=1)
    with time_machine.travel(replay_at, tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        outbound_replay(delivery=delivery, now=replay_at)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert delivery.attempt_log.count() == MAX_ATTEMPTS + 1
    assert len(receiver.requests) == MAX_ATTEMPTS + 1
    assert receiver.requests[-1].body == body_of(delivery.payload)  # the same body again
    with pytest.raises(ValidationError):
        outbound_replay(delivery=delivery, now=replay_at)  # only failed ones


def test_a_claimed_delivery_is_not_sent_again_until_its_lease_is_over(receiver):
    endpoint_create(name="crm", url=receiver.url)
    (delivery_id,) = publish()
    # A worker claimed it and died before recording anything.
    from accounts.outbound.services import LEASE, _claim
    assert _claim(delivery_id, NOW) is not None
    assert not delivery_send(delivery_id=delivery_id, now=NOW + dt.timedelta(seconds=30)).sent
    assert delivery_send(delivery_id=delivery_id, now=NOW + LEASE).succeeded
    assert len(receiver.requests) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_publishing_one_event_twice_at_once_delivers_it_once(receiver):
    endpoint_create(name="crm", url=receiver.url)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            with time_machine.travel(NOW, tick=False):
                publish()
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Delivery.objects.count() == 1
    assert len(receiver.requests) == 1
    assert Delivery.objects.get().status == "succeeded"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_one_delivery_at_once_send_it_once(receiver):
    endpoint_create(name="crm", url=receiver.url)
    # Not through outbound_publish: in autocommit its queued (eager) task would send it now.
    (delivery_id,) = deliveries_create(event_type="invoice.paid", event_id="invoice.paid:1",
                                       payload={}, now=NOW)
    barrier = threading.Barrier(2)
    outcomes = []

    def run():
        try:
            barrier.wait()
            outcomes.append(delivery_send(delivery_id=delivery_id, now=NOW).sent)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, True]
    assert len(receiver.requests) == 1
