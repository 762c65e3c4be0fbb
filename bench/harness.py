"""What the benchmarks share: a gunicorn on a free local port, stopping it, percentiles and
the load average printed beside every figure. Each script keeps its own data and client
(their shapes are what each one measures)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict[str, str], port: int, log: Path, *, workers: int = 2,
                   threads: int = 4, probe: str = "/accounts/login/",
                   timeout: int | None = None) -> subprocess.Popen:
    """Production settings come from ``env``; returns once ``probe`` answers (30 s at most)."""
    command = [str(ROOT / ".venv/bin/gunicorn"), "-c", "billing_site/gunicorn_conf.py",
               "billing_site.wsgi:application",
               "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--graceful-timeout", "5"]
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    if timeout is not None:
        command += ["--timeout", str(timeout)]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env},
                               stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return process
        except OSError:
            time.sleep(0.2)
    stop(process)
    raise SystemExit(f"gunicorn did not answer within 30 s; see {log}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the value at ``fraction`` of the way through the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def load_average() -> str:
    return " ".join(f"{n:.2f}" for n in os.getloadavg())


def all_times(times: list[float]) -> str:
    return "all: " + " ".join(f"{t:.2f}" for t in times)
