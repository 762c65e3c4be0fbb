"""Per-API-key rate limits: 429 with Retry-After and the API's error shape."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create
from common.api import throttles
from common.api.throttles import Rate, estimated_count, retry_after
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 15, 12, 0, 30, tzinfo=dt.UTC)  # halfway through a minute window
CUSTOMERS = "/api/v1/customers"
EVENTS = "/api/v1/events"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def key_client(scope: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name=scope, scope=scope)[1]}")
    return client


def send_event(client: APIClient, n: int):
    body = {"events": [{"transaction_id": f"tx-{n}", "customer": "acme", "event_type": "task.completed",
                        "timestamp": "2026-11-15T11:00:00Z", "properties": {}}]}
    return client.post(EVENTS, data=json.dumps(body), content_type="application/json")


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def test_the_default_rates_are_generous_and_ingest_is_the_higher_one():
    admin, ingest = Rate.parse(settings.API_THROTTLE_RATE_ADMIN), Rate.parse(settings.API_THROTTLE_RATE_INGEST)

    assert admin == Rate(1200, 60)
    assert ingest == Rate(12000, 60)  # 200 requests/s per key, up to 1,000 events each


@override_settings(API_THROTTLE_RATE_ADMIN="3/min")
def test_a_key_over_its_rate_gets_429_with_retry_after_and_a_detail(api):
    responses = [api.get(CUSTOMERS) for _ in range(4)]

    assert statuses(responses) == [200, 200, 200, 429]
    refused = responses[-1]
    assert set(refused.json()) == {"detail"}
    assert "3 requests per minute on admin routes (API_THROTTLE_RATE_ADMIN)" in refused.json()["detail"]
    assert int(refused["Retry-After"]) >= 1
    assert f"Expected available in {refused['Retry-After']} seconds." in refused.json()["detail"]


@override_settings(API_THROTTLE_RATE_ADMIN="2/min")
def test_each_key_has_its_own_budget(api):
    assert statuses([api.get(CUSTOMERS) for _ in range(3)]) == [200, 200, 429]

    other = key_client(ApiKey.Scope.ADMIN)
    assert statuses([other.get(CUSTOMERS) for _ in range(2)]) == [200, 200]


@override_settings(API_THROTTLE_RATE_ADMIN="2/min", API_THROTTLE_RATE_INGEST="3/min")
def test_ingest_routes_draw_on_their_own_budget(api, ingest_api):
    CustomerFactory(external_id="acme")
    assert statuses([api.get(CUSTOMERS) for _ in range(3)]) == [200, 200, 429]

    # The admin key that is out of admin budget may still send events...
    assert statuses([send_event(api, n) for n in range(3)]) == [200, 200, 200]
    # ...and an ingest key is held to the ingest rate.
    assert statuses([send_event(ingest_api, 10 + n) for n in range(4)]) == [200, 200, 200, 429]
    assert "on ingest routes (API_THROTTLE_RATE_INGEST)" in send_event(ingest_api, 99).json()["detail"]


@override_settings(API_THROTTLE_RATE_ADMIN="2/min")
def test_after_retry_after_the_key_gets_in_again(api, clock):
    responses = [api.get(CUSTOMERS) for _ in range(3)]
    assert statuses(responses) == [200, 200, 429]
    wait = int(responses[-1]["Retry-After"])
    assert wait == 70  # 30 s to the next window, then 40 s for this one's share to decay

    clock.shift(dt.timedelta(seconds=wait))
    assert api.get(CUSTOMERS).status_code == 200


@override_settings(API_THROTTLE_RATE_ADMIN="2/min")
def test_a_retry_before_retry_after_is_refused_and_counted(api, clock):
    wait = int([api.get(CUSTOMERS) for _ in range(3)][-1]["Retry-After"])
    clock.shift(dt.timedelta(seconds=wait - 10))

    early = api.get(CUSTOMERS)
    assert early.status_code == 429
    assert int(early["Retry-After"]) > 10  # hammering pushes the time out


@override_settings(API_THROTTLE_RATE_ADMIN="1/min")
def test_requests_without_a_valid_key_are_401_not_throttled(anon_api):
    assert statuses([anon_api.get(CUSTOMERS) for _ in range(3)]) == [401, 401, 401]
    anon_api.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    assert statuses([anon_api.get(CUSTOMERS) for _ in range(3)]) == [401, 401, 401]


class _DownCache:
    def add(self, *args, **kwargs):
        raise RedisConnectionError("connection refused")


@override_settings(API_THROTTLE_RATE_ADMIN="1/min")
def test_a_cache_outage_lets_requests_through_and_says_so(api, monkeypatch, caplog):
    monkeypatch.setattr(throttles, "cache", _DownCache())

    assert statuses([api.get(CUSTOMERS) for _ in range(3)]) == [200, 200, 200]
    assert "API throttle cache unavailable" in caplog.text


def test_the_estimate_weights_the_previous_window_by_its_overlap():
    rate = Rate(100, 60)

    assert estimated_count(previous=100, current=10, elapsed=15, rate=rate) == 85
    assert estimated_count(previous=100, current=10, elapsed=0, rate=rate) == 110
    assert estimated_count(previous=0, current=100, elapsed=59, rate=rate) == 100


def test_retry_after_is_when_one_more_request_fits():
    rate = Rate(100, 60)
    # 100 * (1 - t/60) + 10 + 1 <= 100  <=>  t >= 6.6 s into the window; now is 3 s in.
    assert retry_after(previous=100, current=10, elapsed=3, rate=rate) == pytest.approx(3.6)
    # This window alone is full: wait for the next one, then for this one's share to decay.
    assert retry_after(previous=0, current=101, elapsed=30, rate=rate) == pytest.approx(
        30 + 60 * (1 - 99 / 101))
    assert estimated_count(previous=101, current=1, elapsed=60 * (1 - 99 / 101), rate=rate) == (
        pytest.approx(100))


@pytest.mark.parametrize(("text", "rate"), [("6000/min", Rate(6000, 60)), ("5/s", Rate(5, 1)),
                                            (" 100 / hour ", Rate(100, 3600)), ("1/day", Rate(1, 86400))])
def test_rates_read_requests_per_unit(text, rate):
    assert Rate.parse(text) == rate
