"""A small Stripe-compatible HTTP server for tests (stdlib only, binds 127.0.0.1).

Usage::

    with FakeStripe() as server:
        client = stripe.StripeClient(
            server.api_key, base_addresses={"api": server.url}, max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=2),
        )
        client.v1.customers.create({"name": "ACME"})

What it implements (see ``resources``/``invoicing``/``invoiceitems`` for endpoints):

* Bearer (or basic) auth against one secret key; anything else is a 401.
* Stripe's form encoding, list objects, ``expand[]``, error shape
  ``{"error": {"type", "message", "code", "param"}}`` and ``Request-Id`` headers.
* Idempotency for POST: the first response (status + body) is saved per
  (api key, ``Idempotency-Key``) once the endpoint starts executing; a replay with the same
  method/path/params returns it with ``Idempotent-Replayed: true`` and writes nothing, a
  replay with different params is a 400 ``idempotency_error``.  Requests are executed under
  one lock, so concurrent requests with the same key cannot both write.
  As with Stripe, validation errors (missing/unknown/malformed params, unknown ids) are not
  saved.
* Fault injection (:meth:`FakeStripe.inject_fault`) for retry tests.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from .encoding import StripeError, new_id, parse_form
from .resources import Store

HOST = "127.0.0.1"
DEFAULT_API_KEY = "sk_test_fake"
API_VERSION = "2026-10-28.endive"
FAULT_KINDS = ("error_500", "timeout_after_write", "rate_limit")


class RecordedRequest(NamedTuple):
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class _Fault:
    method: str
    path_prefix: str
    kind: str
    remaining: int
    delay: float | None


@dataclass(frozen=True)
class _Saved:
    fingerprint: str
    status: int
    body: bytes
    request_id: str


@dataclass
class _Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] | None = None
    drop: bool = False  # close the connection without answering


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, indent=2, sort_keys=False).encode("utf-8")


def _api_error(status: int, message: str, **fields: Any) -> bytes:
    return _json({"error": {"message": message, **fields}})


class FakeStripe:
    """In-process fake of the Stripe v1 API endpoints the billing app uses."""

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        port: int = 0,
        timeout_fault_delay: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_key = api_key
        self.timeout_fault_delay = timeout_fault_delay
        self.errors: list[str] = []  # tracebacks of bugs inside the fake (answered 500)
        self._port = port
        self._lock = threading.RLock()
        self._store = Store(clock)
        self._idempotency: dict[tuple[str, str], _Saved] = {}
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeStripe:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self, self._port)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fakestripe",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a timeout fault
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeStripe is not running; call start() first")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------------ test helpers

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received: (method, path, params, idempotency_key)."""
        with self._lock:
            return list(self._requests)

    def objects(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        """Live objects of ``kind`` ("customer", "invoice", "invoiceitem"), oldest first,
        rendered as the API would return them; ``filters`` match top-level fields."""
        with self._lock:
            return self._store.render_all(kind, **filters)

    def get(self, obj_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._store.find(obj_id)

    def reset(self) -> None:
        """Forget all objects, saved idempotent responses, recorded requests and faults."""
        with self._lock:
            self._store.reset()
            self._idempotency.clear()
            self._requests.clear()
            self._faults.clear()
            self.errors.clear()

    def inject_fault(
        self,
        method: str,
        path_prefix: str,
        kind: str,
        times: int = 1,
        *,
        delay: float | None = None,
    ) -> None:
        """Make the next ``times`` matching authenticated requests misbehave.

        ``method`` is an HTTP method or ``"*"``; ``path_prefix`` is matched against the
        request path (e.g. ``"/v1/invoiceitems"``). Kinds:

        * ``"error_500"``: answer 500 ``api_error`` without executing (nothing is written
          and nothing is saved under the idempotency key, as when a request fails before the
          endpoint starts executing), so the SDK's retry with the same key executes normally.
        * ``"rate_limit"``: answer 429 (``code: rate_limit``) without executing.
        * ``"timeout_after_write"``: execute and save the idempotent response, then wait
          ``delay`` seconds (default ``timeout_fault_delay``) and close the connection
          without answering, so the client sees a timeout / connection error.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(_Fault(method.upper(), path_prefix, kind, times, delay))

    @property
    def pending_faults(self) -> list[tuple[str, str, str, int]]:
        with self._lock:
            return [(f.method, f.path_prefix, f.kind, f.remaining) for f in self._faults]

    # ------------------------------------------------------------------ request handling

    def _record(self, method: str, path: str, params: dict[str, Any], key: str | None) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, params, key))

    def _authenticate(self, header: str | None) -> str:
        if not header:
            raise StripeError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        scheme, _, credentials = header.partition(" ")
        key = credentials.strip()
        if scheme.lower() == "basic":
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                key = base64.b64decode(key).decode("utf-8").partition(":")[0]
        elif scheme.lower() != "bearer":
            key = ""
        if key != self.api_key:
            shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else key
            raise StripeError(401, f"Invalid API Key provided: {shown}")
        return key

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method in ("*", method) and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _process(
        self, method: str, path: str, params: dict[str, Any], headers: Any, request_id: str
    ) -> _Response:
        key = headers.get("Idempotency-Key") if method == "POST" else None
        out = {
            "Request-Id": request_id,
            "Stripe-Version": headers.get("Stripe-Version") or API_VERSION,
        }
        if key:
            out["Idempotency-Key"] = key
        try:
            api_key = self._authenticate(headers.get("Authorization"))
            if key is not None and len(key) > 255:
                raise StripeError(400, "Idempotency keys can be at most 255 characters long.")
        except StripeError as exc:
            return _Response(exc.status, _json(exc.body()), out)
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind == "error_500":
            body = _api_error(500, "An unknown error occurred (injected).", type="api_error")
            return _Response(500, body, out)
        if fault is not None and fault.kind == "rate_limit":
            body = _api_error(
                429,
                "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.",
                type="invalid_request_error",
                code="rate_limit",
            )
            return _Response(429, body, out)
        status, body, extra = self._execute(api_key, method, path, params, key, request_id)
        out.update(extra)
        if fault is not None and fault.kind == "timeout_after_write":
            delay = self.timeout_fault_delay if fault.delay is None else fault.delay
            self._stopping.wait(delay)
            return _Response(drop=True)
        return _Response(status, body, out)

    def _execute(
        self,
        api_key: str,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        request_id: str,
    ) -> tuple[int, bytes, dict[str, str]]:
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        slot = (api_key, key) if key else None
        with self._lock:
            saved = self._idempotency.get(slot) if slot else None
            if saved is not None:
                if saved.fingerprint != fingerprint:
                    body = _api_error(
                        400,
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                    return 400, body, {}
                replay = {"Idempotent-Replayed": "true", "Original-Request": saved.request_id}
                return saved.status, saved.body, replay
            try:
                status, payload, store = 200, self._store.call(method, path, params), True
            except StripeError as exc:
                status, payload, store = exc.status, exc.body(), exc.store
            except Exception:
                self.errors.append(traceback.format_exc())
                status, store = 500, False
                payload = {"error": {"type": "api_error", "message": "Fake Stripe bug."}}
            body = _json(payload)
            if slot and store:
                self._idempotency[slot] = _Saved(fingerprint, status, body, request_id)
            return status, body, {}


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "FakeStripe/1.0"
    sys_version = ""

    def log_message(self, *args: Any) -> None:
        return  # keep pytest output clean

    def _handle(self) -> None:
        fake = self.server.fake
        method = self.command
        request_id = new_id("req_", 14)
        split = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        key = self.headers.get("Idempotency-Key")
        try:
            params = parse_form(split.query)
            params.update(parse_form(raw))
        except StripeError as exc:
            fake._record(method, split.path, {}, key)
            self._send(_Response(exc.status, _json(exc.body()), {"Request-Id": request_id}))
            return
        fake._record(method, split.path, params, key)
        self._send(fake._process(method, split.path, params, self.headers, request_id))

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    def _send(self, response: _Response) -> None:
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeStripe, port: int) -> None:
        self.fake = fake
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skip HTTPServer's slow getfqdn()
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # client gave up (e.g. after a timeout fault)
        super().handle_error(request, client_address)
