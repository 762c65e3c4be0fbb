"""Request rates written as ``"<requests>/<unit>"``, read in one place (settings, throttles)."""

from __future__ import annotations

_RATE_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60,
               "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(text: str) -> tuple[int, int]:
    """``"6000/min"`` -> ``(6000, 60)``: a request budget and its window in seconds."""
    count, _, unit = text.strip().partition("/")
    seconds = _RATE_UNITS.get(unit.strip().lower())
    if not count.strip().isdigit() or int(count) < 1 or seconds is None:
        raise ValueError(f"a rate is '<requests>/<s|min|hour|day>' with requests >= 1, got {text!r}")
    return int(count), seconds
