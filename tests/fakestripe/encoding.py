"""Stripe form decoding, error objects and parameter coercion for the fake server.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies (and query strings for
GET) with bracketed keys: ``metadata[invoice_id]=7``, ``expand[0]=customer``,
``period[start]=1700000000``.  Every value arrives as a string; endpoints coerce the ones
they care about and answer with Stripe's error shape when a value is malformed.
"""

from __future__ import annotations

import re
import secrets
import string
import urllib.parse
from decimal import Decimal, InvalidOperation
from typing import Any

_ALPHABET = string.ascii_letters + string.digits
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_INT_RE = re.compile(r"^-?\d+$")

# Keys whose children are free-form names, never array indexes.
_HASH_KEYS = {"metadata"}


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class StripeError(Exception):
    """An error response in Stripe's shape: ``{"error": {"type": ..., "message": ...}}``.

    ``store`` says whether an idempotent request that ends in this error saves it for
    replay.  Stripe saves a response once the endpoint has started executing; requests that
    fail validation (bad/missing/unknown params, unknown ids) are not saved and can be
    retried with the same key.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        store: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.store = store

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            err["code"] = self.code
        if self.param is not None:
            err["param"] = self.param
        return {"error": err}


def missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def no_such(kind: str, obj_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{obj_id}'", code="resource_missing", param=param)


def invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def state_error(message: str, code: str | None = None) -> StripeError:
    """A request that was valid but not allowed in the object's current state (saved)."""
    return StripeError(400, message, code=code, store=True)


# --------------------------------------------------------------------------- decoding


def parse_form(raw: str) -> dict[str, Any]:
    """Decode a Stripe form body / query string into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        match = _KEY_RE.match(key)
        parts = [match.group(1), *_PART_RE.findall(match.group(2))] if match else [key]
        node = root
        for depth, part in enumerate(parts):
            if part == "":  # ``expand[]=x`` style: append
                part = str(len(node))
            if depth == len(parts) - 1:
                if isinstance(node.get(part), dict):
                    raise invalid(key, f"Invalid hash for parameter {key}.")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise invalid(key, f"Invalid hash for parameter {key}.")
                node = child
    return _listify(root, None)


def _listify(node: Any, parent_key: str | None) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k) for k, v in node.items()}
    if out and parent_key not in _HASH_KEYS and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def check_unknown(params: dict[str, Any], allowed: set[str] | frozenset[str]) -> None:
    for name in params:
        if name not in allowed and name != "expand":
            raise StripeError(
                400,
                f"Received unknown parameter: {name}",
                code="parameter_unknown",
                param=name,
            )


def created_matches(obj: dict[str, Any], spec: Any) -> bool:
    """``created=123`` or ``created[gte]=...&created[lt]=...`` list filters."""
    if spec is None:
        return True
    ts = obj["created"]
    if isinstance(spec, str):
        return ts == to_int(spec, "created")
    ops = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
    for op, value in spec.items():
        if op not in ops:
            raise invalid(f"created[{op}]", f"Received unknown parameter: created[{op}]")
        if not ops[op](ts, to_int(value, f"created[{op}]")):
            return False
    return True


# --------------------------------------------------------------------------- coercion


def get_str(
    params: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    choices: tuple[str, ...] | None = None,
    default: str | None = None,
) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return default
    if not isinstance(value, str):
        raise invalid(name, f"Invalid string: {value!r}")
    if choices is not None and value not in choices:
        raise invalid(
            name,
            f"Invalid {name}: must be one of {', '.join(choices)}",
        )
    return value


def to_int(value: Any, param: str, *, minimum: int | None = None) -> int:
    if not isinstance(value, str) or not _INT_RE.match(value):
        raise invalid(param, f"Invalid integer: {value}", code="parameter_invalid_integer")
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid(
            param,
            f"This value must be greater than or equal to {minimum}.",
            code="parameter_invalid_integer",
        )
    return number


def get_int(
    params: dict[str, Any], name: str, *, required: bool = False, minimum: int | None = None
) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise missing(name)
        return None
    return to_int(value, name, minimum=minimum)


def get_bool(params: dict[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value in ("true", "false"):
        return value == "true"
    raise invalid(name, f"Invalid boolean: {value}")


def to_decimal(value: Any, param: str) -> Decimal:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise invalid(param, f"Invalid decimal: {value}")
    if -number.as_tuple().exponent > 12:
        raise invalid(param, f"Invalid decimal: {value} (at most 12 decimal places)")
    return number


def decimal_str(value: Decimal) -> str:
    return format(value.normalize(), "f")


def merge_metadata(
    current: dict[str, str] | None, update: Any, param: str = "metadata"
) -> dict[str, str]:
    """Merge ``metadata`` the way Stripe does: keys merge, ``""`` unsets a key or all keys."""
    merged = dict(current or {})
    if update is None:
        return merged
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid(param, "Invalid hash")
    for key, value in update.items():
        if not isinstance(value, str):
            raise invalid(f"{param}[{key}]", "Metadata values must be strings.")
        if value == "":
            merged.pop(key, None)
            continue
        if len(key) > 40:
            raise invalid(f"{param}[{key}]", "Metadata keys can be at most 40 characters.")
        if len(value) > 500:
            raise invalid(f"{param}[{key}]", "Metadata values can be at most 500 characters.")
        merged[key] = value
    if len(merged) > 50:
        raise invalid(param, "Metadata can have at most 50 keys.")
    return merged
