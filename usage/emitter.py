"""Usage-event emitter: the client a vendor embeds in their own product (stdlib only).

Every AI call in your product should become one usage event. ``record*`` never waits for the
network: events go onto an in-memory queue; a daemon thread batches them to
``POST {base_url}/api/v1/events``. Delivery is at-least-once and the server deduplicates by
``transaction_id``, so retries and replays never double-bill. Example::

    emitter = Emitter("https://billing.example.com", os.environ["BILLING_INGEST_KEY"])
    emitter.record_ai_call(customer="acme", model="gpt-4.1-mini", input_tokens=1200,
                           output_tokens=300, seat="alice@acme.test", feature="summarize")

    with emitter.track_ai_call(customer="acme", model="gpt-4.1-mini", seat=user.email) as call:
        resp = client.chat.completions.create(...)
        call.set_tokens(input_tokens=resp.usage.prompt_tokens,
                        output_tokens=resp.usage.completion_tokens)

    @emitter.ai_call(model="gpt-4.1-mini", customer=lambda text, *, tenant: tenant)
    def summarize(text, *, tenant):  # tokens are read from the result's ``usage``
        return client.chat.completions.create(...)

    emitter.close()  # also runs at interpreter exit (atexit)

Spool: events that cannot be sent (queue full, retries exhausted, unsent at ``close()``) are
appended as JSON lines (fsync) to ``spool_path``. They are sent before live events, on start and
after the server recovers: the spool is renamed to ``<spool>.sending``, sent, then deleted; a
leftover ``.sending`` from a crash is sent on the next start. Events still in memory when the
process is killed (SIGKILL, SIGTERM without a handler that exits) are lost.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import functools
import hashlib
import http.client
import json
import logging
import os
import queue
import random
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid
import weakref

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: in-process locking only
    fcntl = None

logger = logging.getLogger("billing.emitter")

MAX_EVENTS_PER_REQUEST = 1000
MAX_BODY_BYTES = 1_000_000
INITIATORS = frozenset({"user", "agent", "schedule"})
STAT_KEYS = ("sent", "duplicates", "rejected", "spooled", "dropped", "retries")
USER_AGENT = "billing-emitter/1.0"
_WAKE = object()  # queue sentinel: "look at your flags now"


def default_spool_path(base_url: str, api_key: str) -> str:
    """Per-user spool file, one per (server, key) so events are never replayed to another key."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:16]
    return os.path.join(root, "billing-emitter", f"{digest}.jsonl")


def _iso(ts) -> str:
    """ISO 8601 UTC with ``Z``. Naive datetimes are taken as UTC; strings pass through."""
    if isinstance(ts, str):
        return ts
    ts = ts or dt.datetime.now(dt.UTC)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_tokens(**counts) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _ai_properties(model, input_tokens, output_tokens, latency_tier="realtime", seat=None,
                   initiated_by="user", feature=None, provider=None, **extra) -> dict:
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty string, got {model!r}")
    if initiated_by not in INITIATORS:
        raise ValueError(f"initiated_by must be one of {sorted(INITIATORS)}, got {initiated_by!r}")
    _check_tokens(input_tokens=input_tokens, output_tokens=output_tokens)
    props = {"model": model, "input_tokens": input_tokens, "output_tokens": output_tokens,
             "total_tokens": input_tokens + output_tokens, "latency_tier": latency_tier,
             "seat": seat, "initiated_by": initiated_by, "feature": feature, "provider": provider}
    props.update(extra)
    return {k: v for k, v in props.items() if v is not None}


def usage_tokens(result):
    """Best effort ``(input, output)`` from an OpenAI/Anthropic-style response (object or dict)
    exposing ``usage.{input,prompt}_tokens`` / ``usage.{output,completion}_tokens``; else None."""
    def get(obj, *names):
        values = (obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None) for n in names)
        return next((v for v in values if v is not None), None)

    usage = get(result, "usage")
    inp, out = get(usage, "input_tokens", "prompt_tokens"), get(usage, "output_tokens",
                                                                 "completion_tokens")
    return None if inp is None or out is None else (inp, out)


def _after_fork(ref) -> None:
    emitter = ref()
    if emitter is not None and not emitter._closed:
        emitter._start()  # fresh queue/locks/thread; the parent keeps sending its own queue


class TrackedCall:
    """Returned by ``Emitter.track_ai_call``. On exit it records one ``ai.call`` event if
    ``set_tokens`` was called; if the block raised, the event carries ``error: True`` (tokens
    were consumed, so they are billable). No tokens set -> nothing is recorded (a warning is
    logged on normal exit): a provider call that failed before returning usage is not billed."""

    def __init__(self, emitter: Emitter, fields: dict):
        _ai_properties(input_tokens=0, output_tokens=0, **fields)  # fail fast, before the call
        self._emitter, self.fields = emitter, fields
        self.input_tokens = self.output_tokens = self.transaction_id = None

    def set_tokens(self, *, input_tokens: int, output_tokens: int) -> None:
        _check_tokens(input_tokens=input_tokens, output_tokens=output_tokens)
        self.input_tokens, self.output_tokens = input_tokens, output_tokens

    def __enter__(self) -> TrackedCall:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self.input_tokens is None:
            if exc_type is None:
                logger.warning("track_ai_call(model=%s) exited without set_tokens(); "
                               "nothing recorded", self.fields.get("model"))
            return False
        fields = dict(self.fields, error=True) if exc_type is not None else self.fields
        self.transaction_id = self._emitter.record_ai_call(
            input_tokens=self.input_tokens, output_tokens=self.output_tokens, **fields)
        return False


class Emitter:
    """Thread-safe, non-blocking usage-event client. See the module docstring."""

    def __init__(self, base_url: str, api_key: str, *, batch_size: int = 500,
                 flush_interval: float = 1.0, max_queue: int = 100_000, spool_path=None,
                 timeout: float = 5.0, max_retries: int = 5, backoff_base: float = 0.5,
                 backoff_max: float = 30.0, max_body_bytes: int = MAX_BODY_BYTES,
                 shutdown_timeout: float = 5.0, clock=time.monotonic, sleep=None,
                 register_atexit: bool = True):
        if not base_url or not api_key:
            raise ValueError("base_url and api_key are required")
        self.url = base_url.rstrip("/") + "/api/v1/events"
        self._api_key = api_key
        self.batch_size = max(1, min(int(batch_size), MAX_EVENTS_PER_REQUEST))
        self.flush_interval, self.max_queue, self.timeout = flush_interval, max_queue, timeout
        self.max_retries, self.backoff_base, self.backoff_max = max_retries, backoff_base, backoff_max
        self.max_body_bytes, self.shutdown_timeout = max_body_bytes, shutdown_timeout
        self.spool_path = os.fspath(spool_path or default_spool_path(base_url, api_key))
        self._sending_path = self.spool_path + ".sending"
        self._clock, self._sleep = clock, sleep or (lambda seconds: self._abort.wait(seconds))
        self._rng = random.Random()
        self._stats = dict.fromkeys(STAT_KEYS, 0)
        self._closed = False
        self._start()
        self._atexit_registered = register_atexit
        if register_atexit:
            atexit.register(self.close)
        if hasattr(os, "register_at_fork"):  # a forked child (e.g. gunicorn --preload) restarts
            os.register_at_fork(after_in_child=functools.partial(_after_fork, weakref.ref(self)))

    def _start(self) -> None:
        self._stats_lock, self._spool_lock = threading.Lock(), threading.Lock()
        self._cond = threading.Condition()
        self._queue: queue.Queue = queue.Queue(self.max_queue)
        self._enqueued = self._handled = self._flush_target = 0
        self._stopping, self._abort = threading.Event(), threading.Event()
        self._spool_dirty, self._overflowing, self._inflight = True, False, []
        self._thread = threading.Thread(target=self._run, name="billing-emitter", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public API
    def record(self, event_type: str, customer: str, properties: dict | None = None, *,
               timestamp=None, transaction_id: str | None = None) -> str:
        """Queue one event and return its transaction_id. Never blocks on the network."""
        for name, value in (("event_type", event_type), ("customer", customer)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        if properties is not None and not isinstance(properties, dict):
            raise ValueError(f"properties must be a dict, got {type(properties).__name__}")
        tid = str(transaction_id) if transaction_id else uuid.uuid4().hex
        event = {"transaction_id": tid, "customer": customer, "event_type": event_type,
                 "timestamp": _iso(timestamp), "properties": properties or {}}
        try:
            line = json.dumps(event, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"event is not JSON-serialisable: {exc}") from None
        with self._cond:
            if not self._closed:
                try:
                    self._queue.put_nowait((tid, line))
                    self._enqueued += 1
                    return tid
                except queue.Full:
                    if not self._overflowing:
                        logger.warning("billing emitter: queue full (%d); spilling to %s",
                                       self.max_queue, self.spool_path)
                    self._overflowing = True
        self._spool([(tid, line)], fsync=False)  # page cache survives a process crash
        return tid

    def record_ai_call(self, *, customer: str, model: str, input_tokens: int,
                       output_tokens: int, latency_tier: str = "realtime", seat=None,
                       initiated_by: str = "user", feature=None, provider=None,
                       timestamp=None, transaction_id=None, **extra) -> str:
        """Record an ``ai.call`` event (total_tokens computed; None-valued fields omitted)."""
        props = _ai_properties(model, input_tokens, output_tokens, latency_tier, seat,
                               initiated_by, feature, provider, **extra)
        return self.record("ai.call", customer, props, timestamp=timestamp,
                           transaction_id=transaction_id)

    def track_ai_call(self, *, customer: str, model: str, **fields) -> TrackedCall:
        """Context manager around a provider call; see ``TrackedCall``."""
        return TrackedCall(self, dict(fields, customer=customer, model=model))

    def ai_call(self, *, model, customer, tokens=usage_tokens, **fields):
        """Decorator. Any field (``customer``, ``seat``, ...) may be a callable receiving the
        wrapped function's ``(*args, **kwargs)``. ``tokens(result) -> (input, output) | None``
        defaults to reading ``result.usage``."""
        fields = dict(fields, model=model, customer=customer)

        def decorator(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                resolved = {k: v(*args, **kwargs) if callable(v) else v for k, v in fields.items()}
                with self.track_ai_call(**resolved) as call:
                    result = fn(*args, **kwargs)
                    counts = tokens(result)
                    if counts is not None:
                        call.set_tokens(input_tokens=counts[0], output_tokens=counts[1])
                return result
            return wrapper
        return decorator

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything recorded so far is sent (or spooled). False on timeout."""
        with self._cond:
            target = self._enqueued
            if self._handled >= target:
                return True
            self._flush_target = max(self._flush_target, target)
        self._wake()
        with self._cond:
            return self._cond.wait_for(lambda: self._handled >= target, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the thread, spool anything unsent. Idempotent."""
        timeout = self.shutdown_timeout if timeout is None else timeout
        with self._cond:
            if self._closed:
                return
            self._closed = True
        if self._atexit_registered:
            atexit.unregister(self.close)
        self._stopping.set()
        self._wake()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("billing emitter: close() timed out; spooling unsent events")
            self._abort.set()  # in-flight retries give up and spool
            self._thread.join(min(1.0, self.timeout))
        leftovers = list(self._inflight) if self._thread.is_alive() else []  # dup is harmless
        queued = [item for item in iter(self._take, None) if item is not _WAKE]
        self._spool(leftovers + queued)
        self._mark_handled(len(queued))

    @property
    def stats(self) -> dict:
        with self._stats_lock:
            stats = dict(self._stats)
        stats["queued"] = self._queue.qsize()
        return stats

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ worker thread
    def _take(self, timeout: float | None = None):
        try:
            return self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None

    def _run(self) -> None:
        self._drain_spool()
        batch, deadline = [], 0.0
        while True:
            stopping = self._stopping.is_set()
            wait = max(0.0, deadline - self._clock()) if batch else self.flush_interval
            item = self._take(None if stopping else wait)
            if item is not None and item is not _WAKE:
                if not batch:
                    deadline = self._clock() + self.flush_interval
                batch.append(item)
            flush_due = self._handled < self._flush_target <= self._handled + len(batch)
            if batch and (len(batch) >= self.batch_size or flush_due or self._clock() >= deadline
                          or (stopping and item is None)):
                ok = self._process(batch)
                batch = []
                if ok and self._spool_dirty and not self._stopping.is_set():
                    self._drain_spool()
            if stopping and item is None:
                return

    def _process(self, batch: list) -> bool:
        self._inflight = batch
        try:
            failed = self._deliver(batch)
            if failed:
                logger.warning("billing emitter: giving up on %d events for now; spooling",
                               len(failed))
                self._spool(failed)
            else:
                self._overflowing = False
            return not failed
        except Exception:  # never let the worker die; the server dedups any re-send
            logger.exception("billing emitter: unexpected error; spooling batch")
            self._spool(batch)
            return False
        finally:
            self._inflight = []
            self._mark_handled(len(batch))

    def _mark_handled(self, n: int) -> None:
        with self._cond:
            self._handled += n
            self._cond.notify_all()

    def _wake(self) -> None:
        with contextlib.suppress(queue.Full):  # a full queue wakes the worker anyway
            self._queue.put_nowait(_WAKE)

    def _bump(self, **counts) -> None:
        with self._stats_lock:
            for key, n in counts.items():
                self._stats[key] += n

    # ------------------------------------------------------------------ HTTP
    def _deliver(self, items: list) -> list:
        """Send items; returns those that could not be delivered (transient failure)."""
        body = b'{"events":[' + ",".join(line for _, line in items).encode() + b"]}"
        if len(items) > 1 and len(body) > self.max_body_bytes:
            return self._split(items)
        attempt = 0
        while not self._abort.is_set():
            status, payload, retry_after = self._post(body)
            if status is not None and 200 <= status < 300:
                self._on_accepted(items, payload)
                return []
            if status == 413 and len(items) > 1:
                return self._split(items)
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                logger.error("billing emitter: HTTP %d for %d events (will never succeed); "
                             "dropping them: %r", status, len(items), payload)
                self._bump(dropped=len(items))
                return []
            if attempt >= self.max_retries:
                break
            attempt += 1
            self._bump(retries=1)
            cap = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
            delay = cap / 2 + self._rng.uniform(0, cap / 2)  # exponential, "equal jitter"
            self._sleep(min(self.backoff_max, retry_after) if retry_after else delay)
        return items

    def _split(self, items: list) -> list:
        mid = len(items) // 2
        return self._deliver(items[:mid]) + self._deliver(items[mid:])

    def _post(self, body: bytes):
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json",
            "User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                return resp.status, resp.read(), None
        except urllib.error.HTTPError as exc:
            logger.info("billing emitter: HTTP %d from %s", exc.code, self.url)
            retry_after = exc.headers.get("Retry-After", "")
            retry_after = float(retry_after) if retry_after.isdigit() else None
            with contextlib.suppress(OSError, http.client.HTTPException):
                return exc.code, exc.read(500), retry_after
            return exc.code, b"", retry_after
        except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts, resets
            logger.info("billing emitter: POST %s failed: %r", self.url, exc)
            return None, None, None

    def _on_accepted(self, items: list, payload: bytes) -> None:
        try:
            data = json.loads(payload or b"{}")
            accepted, dups = int(data.get("accepted", 0)), int(data.get("duplicates", 0))
            rejected = [r for r in data.get("rejected") or [] if isinstance(r, dict)]
        except (ValueError, TypeError, AttributeError):
            logger.warning("billing emitter: unparseable 2xx answer; assuming %d accepted",
                           len(items))
            accepted, dups, rejected = len(items), 0, []
        for rej in rejected:
            index = rej.get("index")
            tid = items[index][0] if isinstance(index, int) and 0 <= index < len(items) else "?"
            logger.warning("billing emitter: event %s rejected: %s", tid, rej.get("errors"))
        self._bump(sent=accepted, duplicates=dups, rejected=len(rejected))

    # ------------------------------------------------------------------ spool
    @contextlib.contextmanager
    def _spool_guard(self):
        """In-process lock + advisory file lock (processes sharing one spool path)."""
        with self._spool_lock:
            os.makedirs(os.path.dirname(self.spool_path) or ".", mode=0o700, exist_ok=True)
            if fcntl is None:
                yield
                return
            fd = os.open(self.spool_path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _spool(self, items: list, fsync: bool = True) -> None:
        if not items:
            return
        data = "".join(line + "\n" for _, line in items).encode()
        try:
            with self._spool_guard():
                fd = os.open(self.spool_path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    size = os.fstat(fd).st_size
                    if size and os.pread(fd, 1, size - 1) != b"\n":
                        data = b"\n" + data  # a crash left a torn line: don't glue onto it
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                    if fsync:
                        os.fsync(fd)
                finally:
                    os.close(fd)
        except OSError:
            logger.exception("billing emitter: cannot spool %d events to %s; they are LOST",
                             len(items), self.spool_path)
            self._bump(dropped=len(items))
            return
        self._spool_dirty = True
        self._bump(spooled=len(items))

    def _drain_spool(self) -> None:
        """Send the leftover ``.sending`` file, then the current spool (renamed first)."""
        self._spool_dirty = False
        try:
            for _ in range(2):
                with self._spool_guard():
                    if not os.path.exists(self._sending_path):
                        if not os.path.exists(self.spool_path):
                            return
                        os.replace(self.spool_path, self._sending_path)
                if not self._send_file(self._sending_path):
                    self._spool_dirty = True
                    return
        except Exception:
            logger.exception("billing emitter: error while sending the spool %s", self.spool_path)
            self._spool_dirty = True

    def _send_file(self, path: str) -> bool:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            return True  # another process sent it
        with f:
            while True:
                start, items = f.tell(), []
                while len(items) < self.batch_size:
                    raw = f.readline()
                    if not raw:
                        break
                    try:
                        items.append((json.loads(raw)["transaction_id"], raw.strip().decode()))
                    except (ValueError, KeyError, TypeError):
                        if raw.strip():
                            logger.warning("billing emitter: skipping corrupt spool line %r",
                                           raw[:200])
                            self._bump(dropped=1)
                if not items:
                    break
                if self._deliver(items):  # keep the unsent tail (the server dedups re-sends)
                    if start:
                        f.seek(start)
                        tmp = f"{path}.{os.getpid()}.tmp"
                        with open(tmp, "wb") as out:
                            shutil.copyfileobj(f, out)
                            out.flush()
                            os.fsync(out.fileno())
                        os.replace(tmp, path)
                    return False
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        return True
