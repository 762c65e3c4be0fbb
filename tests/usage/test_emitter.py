"""Tests for usage.emitter against an in-process stub of POST /api/v1/events (no Django)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from usage.emitter import Emitter, default_spool_path

KEY = "ik_test_123"
FAST = {"backoff_base": 0.01, "backoff_max": 0.05, "timeout": 2.0, "register_atexit": False}


class Stub:
    """Records events deduplicated by transaction_id, like the real endpoint."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events: dict[str, dict] = {}  # tid -> event, insertion order = first arrival
        self.requests: list[tuple[int | str, list[str]]] = []  # (status|"drop", tids)
        self.fail_next = 0
        self.fail_mode = "500"  # "500" (nothing stored) | "drop" (stored, then no answer)
        self.max_body = 1_000_000
        self.hang = threading.Event()  # set -> handlers block until `release` is set
        self.release = threading.Event()
        self.hits = 0  # requests that reached the handler, answered or not

    def handle(self, handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        self.hits += 1
        if self.hang.is_set():
            self.release.wait(10)
        if handler.headers.get("Authorization") != f"Bearer {KEY}":
            return 401, {"detail": "bad key"}
        if len(body) > self.max_body:
            self.requests.append((413, []))
            return 413, {"detail": "too large"}
        events = json.loads(body)["events"]
        tids = [e["transaction_id"] for e in events]
        with self.lock:
            failing = self.fail_next > 0
            self.fail_next -= failing
            if failing and self.fail_mode == "500":
                self.requests.append((500, tids))
                return 500, {"detail": "boom"}
            accepted, dups, rejected = 0, 0, []
            for i, event in enumerate(events):
                if event["properties"].get("bad"):
                    rejected.append({"index": i, "errors": {"properties": ["bad"]}})
                elif event["transaction_id"] in self.events:
                    dups += 1
                else:
                    self.events[event["transaction_id"]] = event
                    accepted += 1
            if failing:  # "drop": stored, but the answer never reaches the client
                self.requests.append(("drop", tids))
                return None, None
            self.requests.append((200, tids))
        return 200, {"accepted": accepted, "duplicates": dups, "rejected": rejected}

    def ok_tids(self):
        return [t for status, tids in self.requests if status == 200 for t in tids]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture
def stub():
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            status, payload = state.handle(self)
            if status is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.handle_error = lambda request, address: None  # clients that gave up: expected
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def spool(tmp_path):
    return str(tmp_path / "spool.jsonl")


def make(stub_or_url, spool, **kw):
    url = stub_or_url if isinstance(stub_or_url, str) else stub_or_url.base_url
    return Emitter(url, KEY, spool_path=spool, **{**FAST, **kw})


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def dead_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here: connection refused


def spool_tids(path):
    tids = []
    for p in (path, path + ".sending"):
        if os.path.exists(p):
            with open(p) as f:
                tids += [json.loads(line)["transaction_id"] for line in f if line.strip()]
    return tids


# ---------------------------------------------------------------- batching
def test_batches_by_size(stub, spool):
    with make(stub, spool, batch_size=10, flush_interval=60) as em:
        tids = [em.record("ai.call", "acme", {"n": i}) for i in range(30)]
        assert wait_until(lambda: len(stub.events) == 30)
        assert [len(t) for s, t in stub.requests] == [10, 10, 10]
        assert list(stub.events) == tids  # order preserved
        # The stub holds the events before the emitter has read the reply and counted them.
        assert wait_until(lambda: em.stats["sent"] == 30)


def test_batches_by_time(stub, spool):
    with make(stub, spool, batch_size=500, flush_interval=0.2) as em:
        for i in range(5):
            em.record("ai.call", "acme", {"n": i})
        time.sleep(0.05)
        assert stub.requests == []  # neither size nor time reached yet
        assert wait_until(lambda: len(stub.events) == 5, timeout=2)
        assert len(stub.requests) == 1


def test_flush_blocks_until_sent(stub, spool):
    with make(stub, spool, flush_interval=60) as em:
        em.record("ai.call", "acme")
        assert em.flush(timeout=5)
        assert len(stub.events) == 1
        assert em.flush(timeout=0)  # nothing pending


def test_event_shape_and_timestamp(stub, spool):
    with make(stub, spool) as em:
        tid = em.record("ai.call", "acme", {"k": 1}, transaction_id="tx-1",
                        timestamp="2026-10-05T12:00:00Z")
        auto = em.record("ai.call", "acme")
        em.flush(5)
    assert tid == "tx-1"
    assert stub.events["tx-1"] == {"transaction_id": "tx-1", "customer": "acme",
                                   "event_type": "ai.call", "timestamp": "2026-10-05T12:00:00Z",
                                   "properties": {"k": 1}}
    assert len(auto) == 32 and stub.events[auto]["timestamp"].endswith("Z")


def test_record_validates_in_caller(spool):
    em = make(dead_url(), spool)
    try:
        with pytest.raises(ValueError):
            em.record("", "acme")
        with pytest.raises(ValueError):
            em.record("ai.call", None)
        with pytest.raises(ValueError):
            em.record("ai.call", "acme", {"obj": object()})
    finally:
        em.close(timeout=0)


# ---------------------------------------------------------------- retries
def test_retries_after_500_with_same_transaction_ids(stub, spool):
    stub.fail_next = 2
    with make(stub, spool, flush_interval=60) as em:
        tids = [em.record("ai.call", "acme") for _ in range(20)]
        assert em.flush(timeout=5)
        stats = em.stats
    assert [s for s, _ in stub.requests] == [500, 500, 200]
    assert all(t == tids for _, t in stub.requests)  # same ids re-sent
    assert list(stub.events) == tids
    assert stats["retries"] == 2 and stats["sent"] == 20 and stats["spooled"] == 0


def test_retries_after_lost_answer_are_deduplicated(stub, spool):
    stub.fail_next, stub.fail_mode = 2, "drop"  # server stores, the connection dies
    with make(stub, spool, flush_interval=60) as em:
        tids = [em.record("ai.call", "acme") for _ in range(20)]
        assert em.flush(timeout=5)
        stats = em.stats
    assert [s for s, _ in stub.requests] == ["drop", "drop", 200]
    assert all(t == tids for _, t in stub.requests)
    assert list(stub.events) == tids  # each event counted exactly once server-side
    assert stats["retries"] == 2 and stats["sent"] == 0 and stats["duplicates"] == 20


def test_413_splits_batch(stub, spool):
    stub.max_body = 3000
    with make(stub, spool, flush_interval=60) as em:
        tids = [em.record("ai.call", "acme", {"pad": "x" * 50}) for _ in range(64)]
        assert em.flush(timeout=5)
        stats = em.stats
    assert 413 in [s for s, _ in stub.requests]
    assert sorted(stub.events) == sorted(tids)
    assert stats["sent"] == 64 and stats["dropped"] == 0


def test_rejections_counted_and_4xx_dropped(stub, spool):
    with make(stub, spool, flush_interval=60) as em:
        em.record("ai.call", "acme", {"bad": True})
        em.record("ai.call", "acme")
        em.flush(5)
        assert em.stats["rejected"] == 1 and em.stats["sent"] == 1
    with Emitter(stub.base_url, "wrong-key", spool_path=spool, **FAST) as em:
        em.record("ai.call", "acme")
        em.flush(5)
        assert em.stats["dropped"] == 1 and em.stats["retries"] == 0
    assert not os.path.exists(spool)  # a bad key is never spooled


# ---------------------------------------------------------------- spool
def test_server_down_spools_then_next_emitter_sends_spool_first(stub, spool):
    down = make(dead_url(), spool, max_retries=1, flush_interval=60)
    tids = [down.record("ai.call", "acme", {"n": i}) for i in range(25)]
    down.close(timeout=5)
    assert down.stats["spooled"] == 25 and down.stats["sent"] == 0
    assert spool_tids(spool) == tids

    with make(stub, spool, flush_interval=60) as up:
        live = up.record("ai.call", "acme", {"live": True})
        assert up.flush(timeout=5)
        stats = up.stats
    assert list(stub.events) == tids + [live]  # spool first, nothing lost or duplicated
    assert stub.ok_tids() == tids + [live]
    assert stats["sent"] == 26
    assert not os.path.exists(spool) and not os.path.exists(spool + ".sending")


def test_spool_is_resent_once_the_server_recovers(stub, spool):
    stub.fail_next = 2  # first batch: 1 try + 1 retry, both 500 -> spooled
    with make(stub, spool, max_retries=1, flush_interval=60) as em:
        first = [em.record("ai.call", "acme") for _ in range(5)]
        assert em.flush(timeout=5)
        assert em.stats["spooled"] == 5 and spool_tids(spool) == first
        second = em.record("ai.call", "acme")  # server is back: this send triggers the drain
        assert em.flush(timeout=5)
        assert wait_until(lambda: len(stub.events) == 6)
        assert wait_until(lambda: em.stats["sent"] == 6)
    assert list(stub.events) == [second, *first]
    assert not os.path.exists(spool) and not os.path.exists(spool + ".sending")


def test_leftover_sending_file_and_torn_line_are_recovered(stub, spool):
    def line(tid):
        return json.dumps({"transaction_id": tid, "customer": "acme", "event_type": "ai.call",
                           "timestamp": "2026-10-05T12:00:00Z", "properties": {}}) + "\n"

    with open(spool + ".sending", "w") as f:  # crashed mid-send last time
        f.write(line("a1") + line("a2"))
    with open(spool, "w") as f:  # crashed mid-append: torn last line
        f.write(line("b1") + '{"transaction_id": "b2", "cust')
    with make(stub, spool, flush_interval=60) as em:
        em.record("ai.call", "acme", transaction_id="c1")
        em.flush(5)
        assert em.stats["dropped"] == 1  # the torn line
    assert list(stub.events) == ["a1", "a2", "b1", "c1"]
    assert not os.path.exists(spool) and not os.path.exists(spool + ".sending")


def test_spool_append_does_not_glue_onto_a_torn_line(spool):
    with open(spool, "w") as f:
        f.write('{"transaction_id": "torn')
    em = make(dead_url(), spool, max_retries=0)
    em.close(timeout=5)  # the startup drain fails -> nothing else happens
    em2 = make(dead_url(), spool, max_retries=0)
    tid = em2.record("ai.call", "acme")
    em2.close(timeout=5)
    assert tid in spool_tids_lenient(spool)


def spool_tids_lenient(path):
    tids = []
    for p in (path, path + ".sending"):
        if os.path.exists(p):
            with open(p) as f:
                for raw in f:
                    try:
                        tids.append(json.loads(raw)["transaction_id"])
                    except ValueError:
                        pass
    return tids


def test_default_spool_path_is_per_user_and_per_key(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    a = default_spool_path("https://b.example", "k1")
    assert a.startswith(str(tmp_path / "billing-emitter")) and a.endswith(".jsonl")
    assert a == default_spool_path("https://b.example/", "k1")
    assert a != default_spool_path("https://b.example", "k2")
    assert "k1" not in a


# ---------------------------------------------------------------- never blocks
def test_record_never_blocks_on_hanging_server(stub, spool):
    stub.hang.set()
    em = make(stub, spool, batch_size=100, flush_interval=0.01, timeout=0.3, max_retries=1)
    tids = [em.record("ai.call", "acme")]
    assert wait_until(lambda: stub.hits == 1)  # the worker is now stuck in a POST
    # All 1000 calls return while the only worker is still stuck in its first POST:
    # record() never waits on the network (a functional check, not a timing one).
    tids += [em.record("ai.call", "acme", {"n": i}) for i in range(1000)]
    assert stub.hits == 1 and not stub.release.is_set()
    assert em.stats["queued"] >= 1000
    assert em.flush(timeout=0.05) is False  # flush() honours its timeout
    em.close(timeout=0.2)  # server still hanging: everything unsent goes to the spool
    stub.release.set()
    assert set(spool_tids(spool)) | set(stub.events) >= set(tids)


def test_full_queue_spills_to_spool(stub, spool):
    stub.hang.set()
    em = make(stub, spool, max_queue=10, batch_size=5, timeout=0.3, max_retries=0)
    tids = [em.record("ai.call", "acme") for _ in range(100)]
    assert em.stats["spooled"] >= 80
    em.close(timeout=0.2)
    stub.release.set()
    assert set(spool_tids(spool)) | set(stub.events) >= set(tids)


def test_concurrent_recorders_each_event_once(stub, spool):
    with make(stub, spool, batch_size=50, flush_interval=0.05) as em:
        tids, lock = [], threading.Lock()

        def worker():
            mine = [em.record("ai.call", "acme") for _ in range(250)]
            with lock:
                tids.extend(mine)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert em.flush(timeout=5)
        assert em.stats["sent"] == 2000
    assert sorted(stub.events) == sorted(tids) and len(stub.ok_tids()) == 2000


# ---------------------------------------------------------------- AI helpers
def test_record_ai_call_shape_and_validation(stub, spool):
    with make(stub, spool) as em:
        tid = em.record_ai_call(customer="acme", model="gpt-4.1-mini", input_tokens=1200,
                                output_tokens=300, seat="alice@acme.test", initiated_by="agent",
                                feature="summarize", region="eu")
        for bad in ({"initiated_by": "robot"}, {"input_tokens": -1}, {"output_tokens": 1.5},
                    {"input_tokens": True}, {"model": ""}):
            kwargs = {"customer": "acme", "model": "m", "input_tokens": 1, "output_tokens": 1}
            with pytest.raises(ValueError):
                em.record_ai_call(**{**kwargs, **bad})
        em.flush(5)
    event = stub.events[tid]
    assert event["event_type"] == "ai.call"
    assert event["properties"] == {
        "model": "gpt-4.1-mini", "input_tokens": 1200, "output_tokens": 300,
        "total_tokens": 1500, "latency_tier": "realtime", "seat": "alice@acme.test",
        "initiated_by": "agent", "feature": "summarize", "region": "eu"}
    assert len(stub.events) == 1


def test_track_ai_call_context_manager(stub, spool):
    with make(stub, spool) as em:
        with em.track_ai_call(customer="acme", model="m", seat="bob@acme.test") as call:
            call.set_tokens(input_tokens=10, output_tokens=5)
        ok = call.transaction_id

        with pytest.raises(RuntimeError), em.track_ai_call(customer="acme", model="m") as failed:
            failed.set_tokens(input_tokens=7, output_tokens=0)
            raise RuntimeError("provider blew up after usage was known")

        with pytest.raises(RuntimeError), em.track_ai_call(customer="acme", model="m") as none:
            raise RuntimeError("no usage known")
        with em.track_ai_call(customer="acme", model="m"):
            pass  # forgot set_tokens: warning, nothing recorded

        with pytest.raises(ValueError):  # validated before the provider call
            em.track_ai_call(customer="acme", model="m", initiated_by="robot")
        with pytest.raises(ValueError), em.track_ai_call(customer="acme", model="m") as c:
            c.set_tokens(input_tokens=-1, output_tokens=0)
        em.flush(5)
    assert none.transaction_id is None
    assert stub.events[ok]["properties"]["total_tokens"] == 15
    assert stub.events[ok]["properties"]["seat"] == "bob@acme.test"
    props = stub.events[failed.transaction_id]["properties"]
    assert props["error"] is True and props["total_tokens"] == 7
    assert len(stub.events) == 2


def test_ai_call_decorator(stub, spool):
    with make(stub, spool) as em:
        @em.ai_call(model="gpt-4.1-mini", customer=lambda text, *, tenant: tenant,
                    feature="summarize")
        def summarize(text, *, tenant):
            return {"text": text[:3], "usage": {"prompt_tokens": 4, "completion_tokens": 2}}

        @em.ai_call(model="m", customer="acme", tokens=lambda r: (r, 1))
        def custom(n):
            return n

        assert summarize("hello", tenant="globex")["text"] == "hel"
        assert custom(3) == 3
        em.flush(5)
    by_customer = {e["customer"]: e["properties"] for e in stub.events.values()}
    assert by_customer["globex"]["total_tokens"] == 6
    assert by_customer["globex"]["feature"] == "summarize"
    assert by_customer["acme"]["input_tokens"] == 3


def test_close_is_idempotent_and_record_after_close_spools(stub, spool):
    em = make(stub, spool)
    em.close()
    em.close()
    tid = em.record("ai.call", "acme")
    assert spool_tids(spool) == [tid] and em.stats["spooled"] == 1
