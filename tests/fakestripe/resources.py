"""In-memory Stripe account state: routing, lists, expansion and customers.

Invoice and invoice-item endpoints live in :mod:`invoicing` and :mod:`invoiceitems`
(mixins of :class:`Store`).
The store is not thread-safe by itself; the server calls it while holding its lock.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import time
from collections.abc import Callable
from typing import Any

from .encoding import (
    StripeError,
    check_unknown,
    created_matches,
    get_bool,
    get_int,
    get_str,
    invalid,
    merge_metadata,
    new_id,
    no_such,
)
from .invoiceitems import InvoiceItemsMixin
from .invoicing import InvoicingMixin

KINDS = ("customer", "invoice", "invoiceitem")
ID_PREFIXES = {"cus_": "customer", "in_": "invoice", "ii_": "invoiceitem"}

CUSTOMER_FIELDS = frozenset(
    "address balance business_name cash_balance description email individual_name "
    "invoice_prefix invoice_settings metadata name next_invoice_sequence phone "
    "preferred_locales shipping source tax tax_exempt validate".split()
)
CUSTOMER_CREATE = CUSTOMER_FIELDS | {"payment_method", "tax_id_data", "test_clock"}
CUSTOMER_UPDATE = CUSTOMER_FIELDS | {"default_source"}
CUSTOMER_LIST = frozenset("created email ending_before limit starting_after test_clock".split())


def _route(method: str, pattern: str, handler: str) -> tuple[str, re.Pattern[str], str]:
    regex = re.compile(pattern.replace("{id}", r"(?P<obj_id>[^/]+)"))
    return method, regex, handler


ROUTES = [
    _route("POST", "/v1/customers", "create_customer"),
    _route("GET", "/v1/customers", "list_customers"),
    _route("GET", "/v1/customers/{id}", "retrieve_customer"),
    _route("POST", "/v1/customers/{id}", "update_customer"),
    _route("DELETE", "/v1/customers/{id}", "delete_customer"),
    _route("POST", "/v1/invoices", "create_invoice"),
    _route("GET", "/v1/invoices", "list_invoices"),
    _route("GET", "/v1/invoices/{id}", "retrieve_invoice"),
    _route("POST", "/v1/invoices/{id}", "update_invoice"),
    _route("DELETE", "/v1/invoices/{id}", "delete_invoice"),
    _route("GET", "/v1/invoices/{id}/lines", "list_invoice_lines"),
    _route("POST", "/v1/invoices/{id}/finalize", "finalize_invoice"),
    _route("POST", "/v1/invoices/{id}/void", "void_invoice"),
    _route("POST", "/v1/invoices/{id}/pay", "pay_invoice"),
    _route("POST", "/v1/invoices/{id}/mark_uncollectible", "mark_uncollectible_invoice"),
    _route("POST", "/v1/invoiceitems", "create_invoiceitem"),
    _route("GET", "/v1/invoiceitems", "list_invoiceitems"),
    _route("GET", "/v1/invoiceitems/{id}", "retrieve_invoiceitem"),
    _route("POST", "/v1/invoiceitems/{id}", "update_invoiceitem"),
    _route("DELETE", "/v1/invoiceitems/{id}", "delete_invoiceitem"),
]


def _invoice_prefix() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(8))


class Store(InvoicingMixin, InvoiceItemsMixin):
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.reset()

    def reset(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self.deleted_customers: set[str] = set()

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------------ dispatch

    def call(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for route_method, regex, handler in ROUTES:
            match = regex.fullmatch(path)
            if match and route_method == method:
                body = getattr(self, handler)(params, **match.groupdict())
                self.expand(body, params.get("expand"))
                return body
        raise StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    # ------------------------------------------------------------------ helpers

    def get(self, kind: str, obj_id: str, param: str = "id") -> dict[str, Any]:
        obj = self.data[kind].get(obj_id)
        if obj is None:
            raise no_such(kind, obj_id, param)
        return obj

    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj["object"] == "invoice":
            return self.render_invoice(obj)
        return copy.deepcopy(obj)

    def render_all(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        """All live objects of ``kind`` (oldest first) whose fields equal ``filters``."""
        if kind not in self.data:
            raise ValueError(f"unknown object kind {kind!r}; expected one of {KINDS}")
        objs = [
            self.render(o)
            for o in self.data[kind].values()
            if o["id"] not in self.deleted_customers
        ]
        return [o for o in objs if all(o.get(k) == v for k, v in filters.items())]

    def find(self, obj_id: str) -> dict[str, Any] | None:
        if obj_id in self.deleted_customers:
            return {"id": obj_id, "object": "customer", "deleted": True}
        for prefix, kind in ID_PREFIXES.items():
            if obj_id.startswith(prefix) and obj_id in self.data[kind]:
                return self.render(self.data[kind][obj_id])
        return None

    def paginate(
        self, kind: str, url: str, objs: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        """Stripe list object over ``objs`` (already in list order, newest first)."""
        limit = get_int(params, "limit", minimum=1)
        if limit is None:
            limit = 10
        if limit > 100:
            raise invalid("limit", "This value must be less than or equal to 100.")
        after = get_str(params, "starting_after")
        before = get_str(params, "ending_before")
        ids = [o["id"] for o in objs]
        if after is not None:
            if after not in ids:
                raise no_such(kind, after, "starting_after")
            rest = objs[ids.index(after) + 1 :]
            page, has_more = rest[:limit], len(rest) > limit
        elif before is not None:
            if before not in ids:
                raise no_such(kind, before, "ending_before")
            rest = objs[: ids.index(before)]
            page, has_more = rest[-limit:], len(rest) > limit
        else:
            page, has_more = objs[:limit], len(objs) > limit
        return {"object": "list", "data": page, "has_more": has_more, "url": url}

    def expand(self, body: dict[str, Any], paths: Any) -> None:
        if not paths:
            return
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list):
            raise invalid("expand", "Invalid array")
        for path in paths:
            self._expand(body, path.split("."), path)

    def _expand(self, node: Any, parts: list[str], path: str) -> None:
        if not parts or not isinstance(node, dict):
            return
        head, rest = parts[0], parts[1:]
        if head == "data" and node.get("object") == "list":
            for item in node["data"]:
                self._expand(item, rest, path)
            return
        if head not in node:
            raise invalid("expand", f"This property cannot be expanded ({path}).")
        value = node[head]
        if isinstance(value, str):
            found = self.find(value)
            if found is None:
                raise invalid("expand", f"This property cannot be expanded ({path}).")
            node[head] = value = found
        self._expand(value, rest, path)

    # ------------------------------------------------------------------ customers

    def customer(self, obj_id: str, param: str = "id") -> dict[str, Any]:
        if obj_id in self.deleted_customers:
            raise no_such("customer", obj_id, param)
        return self.get("customer", obj_id, param)

    def _apply_customer_params(self, cust: dict[str, Any], p: dict[str, Any]) -> None:
        email = get_str(p, "email")
        if email is not None and "@" not in email:
            raise invalid("email", f"Invalid email address: {email}", code="email_invalid")
        for name in (
            "name",
            "email",
            "description",
            "phone",
            "business_name",
            "individual_name",
            "default_source",
        ):
            if name in p:
                cust[name] = get_str(p, name)
        for name in ("address", "shipping"):
            if name in p:
                cust[name] = p[name] or None
        if "preferred_locales" in p:
            cust["preferred_locales"] = p["preferred_locales"] or []
        if "balance" in p:
            cust["balance"] = get_int(p, "balance") or 0
        if "next_invoice_sequence" in p:
            cust["next_invoice_sequence"] = get_int(p, "next_invoice_sequence", minimum=1)
        if "invoice_prefix" in p:
            prefix = get_str(p, "invoice_prefix", required=True)
            if not re.fullmatch(r"[A-Z0-9]{3,12}", prefix or ""):
                raise invalid(
                    "invoice_prefix",
                    "Invoice prefix must be 3-12 uppercase letters or numbers.",
                )
            cust["invoice_prefix"] = prefix
        if "tax_exempt" in p:
            cust["tax_exempt"] = get_str(
                p, "tax_exempt", choices=("none", "exempt", "reverse"), default="none"
            )
        if isinstance(p.get("invoice_settings"), dict):
            cust["invoice_settings"].update(p["invoice_settings"])
        cust["metadata"] = merge_metadata(cust["metadata"], p.get("metadata"))
        get_bool(p, "validate")

    def create_customer(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, CUSTOMER_CREATE)
        cust: dict[str, Any] = {
            "id": new_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self.now(),
            "currency": None,
            "default_source": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "invoice_prefix": _invoice_prefix(),
            "invoice_settings": {
                "custom_fields": None,
                "default_payment_method": None,
                "footer": None,
                "rendering_options": None,
            },
            "livemode": False,
            "metadata": {},
            "name": None,
            "next_invoice_sequence": 1,
            "phone": None,
            "preferred_locales": [],
            "shipping": None,
            "tax_exempt": "none",
            "test_clock": None,
        }
        self._apply_customer_params(cust, p)
        self.data["customer"][cust["id"]] = cust
        return copy.deepcopy(cust)

    def retrieve_customer(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        if obj_id in self.deleted_customers:
            return {"id": obj_id, "object": "customer", "deleted": True}
        return copy.deepcopy(self.customer(obj_id))

    def update_customer(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, CUSTOMER_UPDATE)
        cust = self.customer(obj_id)
        updated = copy.deepcopy(cust)
        self._apply_customer_params(updated, p)
        cust.update(updated)
        return copy.deepcopy(cust)

    def delete_customer(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        self.customer(obj_id)
        self.deleted_customers.add(obj_id)
        return {"id": obj_id, "object": "customer", "deleted": True}

    def list_customers(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, CUSTOMER_LIST)
        email = get_str(p, "email")
        objs = [
            copy.deepcopy(c)
            for c in reversed(self.data["customer"].values())
            if c["id"] not in self.deleted_customers
            and (email is None or c["email"] == email)
            and created_matches(c, p.get("created"))
        ]
        return self.paginate("customer", "/v1/customers", objs, p)
