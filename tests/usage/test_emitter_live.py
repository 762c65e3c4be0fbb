"""The emitter against the real running app (Django's live server): nothing is lost,
nothing is counted twice, also when the server fails its first requests or is down."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import CustomerFactory
from usage.emitter import Emitter
from usage.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"flush_interval": 0.05, "backoff_base": 0.01, "backoff_max": 0.05, "timeout": 5.0,
        "register_atexit": False}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def acme():
    return CustomerFactory(external_id="acme")


class FlakyProxy:
    """Forwards to the live server, but answers 503 to the first ``failures`` requests."""

    def __init__(self, target: str, failures: int):
        self.target, self.failures, self.seen = target, failures, 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    proxy.seen += 1
                    fail = proxy.seen <= proxy.failures
                if fail:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(
                    proxy.target + self.path, data=body, method="POST",
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, data = answer.status, answer.read()
                except urllib.error.HTTPError as error:
                    status, data = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _record_calls(emitter: Emitter, n: int, offset: int = 0) -> list[str]:
    return [
        emitter.record_ai_call(customer="acme", model="gpt-4.1-mini", input_tokens=100 + i,
                               output_tokens=10, seat="alice@acme.test", initiated_by="agent",
                               feature="summarize")
        for i in range(offset, offset + n)
    ]


def test_emitter_delivers_every_ai_call_to_the_running_app(live_server, acme, ingest_key, tmp_path):
    emitter = Emitter(live_server.url, ingest_key, spool_path=str(tmp_path / "s.jsonl"),
                      batch_size=40, **FAST)
    ids = _record_calls(emitter, 100)
    emitter.close(timeout=30)

    stored = Event.objects.filter(customer=acme)
    assert sorted(stored.values_list("transaction_id", flat=True)) == sorted(ids)
    event = stored.get(transaction_id=ids[0])
    assert event.event_type == "ai.call"
    assert event.properties["total_tokens"] == 110
    assert event.seat == "alice@acme.test" and event.model == "gpt-4.1-mini"
    assert emitter.stats["sent"] == 100 and emitter.stats["spooled"] == 0


def test_emitter_retries_through_a_server_that_fails_its_first_requests(
    live_server, acme, ingest_key, tmp_path
):
    proxy = FlakyProxy(live_server.url, failures=3)
    try:
        emitter = Emitter(proxy.url, ingest_key, spool_path=str(tmp_path / "s.jsonl"),
                          batch_size=25, max_retries=6, **FAST)
        ids = _record_calls(emitter, 60)
        emitter.close(timeout=30)
    finally:
        proxy.close()
    assert proxy.seen > 3
    assert Event.objects.filter(customer=acme).count() == 60
    assert set(Event.objects.values_list("transaction_id", flat=True)) == set(ids)
    assert emitter.stats["retries"] >= 3


def test_events_spooled_while_the_server_is_down_are_sent_when_it_is_back(
    live_server, acme, ingest_key, tmp_path
):
    spool = str(tmp_path / "s.jsonl")
    down = Emitter(_dead_url(), ingest_key, spool_path=spool, max_retries=1, **FAST)
    offline_ids = _record_calls(down, 30)
    down.close(timeout=5)
    assert Event.objects.count() == 0
    assert down.stats["spooled"] == 30

    back = Emitter(live_server.url, ingest_key, spool_path=spool, **FAST)
    online_ids = _record_calls(back, 5, offset=30)
    back.close(timeout=30)
    assert set(Event.objects.values_list("transaction_id", flat=True)) == set(offline_ids + online_ids)
    assert Event.objects.count() == 35
