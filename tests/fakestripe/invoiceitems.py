"""Invoice-item endpoints of the fake Stripe server (mixed into ``Store``).

* invoice items can only be added to, changed on or deleted from draft invoices (or while
  pending, i.e. ``invoice`` is null); otherwise 400 ``invoice_not_editable``;
* the price is ``amount`` (integer, minor units) XOR ``unit_amount_decimal`` (or
  ``price_data[unit_amount(_decimal)]``) times ``quantity``, rounded half-up to an integer.
"""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .encoding import (
    check_unknown,
    created_matches,
    decimal_str,
    get_bool,
    get_int,
    get_str,
    invalid,
    merge_metadata,
    missing,
    new_id,
    state_error,
    to_decimal,
    to_int,
)
from .invoicing import currency_param

ITEM_FIELDS = frozenset(
    "amount description discountable discounts metadata period price_data pricing quantity "
    "quantity_decimal tax_behavior tax_code tax_rates unit_amount_decimal".split()
)
ITEM_CREATE = ITEM_FIELDS | {"currency", "customer", "customer_account", "invoice", "subscription"}
ITEM_UPDATE = ITEM_FIELDS | {"invoicing_rules"}
ITEM_LIST = frozenset(
    "created customer customer_account ending_before invoice limit pending starting_after".split()
)


class InvoiceItemsMixin:
    # Provided by Store: now(), get(), customer(), paginate()
    data: dict[str, dict[str, dict[str, Any]]]

    def _require_editable(self, invoice_id: str | None) -> None:
        if invoice_id is None:
            return
        inv = self.data["invoice"][invoice_id]
        if inv["status"] != "draft":
            raise state_error(
                f"Invoice {invoice_id} is {inv['status']}: invoice items can only be added to, "
                "updated on or deleted from draft invoices.",
                code="invoice_not_editable",
            )

    def _price_item(self, item: dict[str, Any], p: dict[str, Any], creating: bool) -> None:
        """Set amount/quantity/pricing from ``amount`` or ``unit_amount_decimal``."""
        if isinstance(p.get("pricing"), dict) and "price" in p["pricing"]:
            raise invalid("pricing[price]", "The fake Stripe server does not support prices.")
        unit_raw, unit_param = p.get("unit_amount_decimal"), "unit_amount_decimal"
        price_data = p.get("price_data")
        if isinstance(price_data, dict):
            for key in ("unit_amount_decimal", "unit_amount"):
                if price_data.get(key) not in (None, ""):
                    unit_raw, unit_param = price_data[key], f"price_data[{key}]"
        amount = get_int(p, "amount")
        quantity = get_int(p, "quantity", minimum=0)
        qty_dec = p.get("quantity_decimal")
        if quantity is not None and qty_dec not in (None, ""):
            raise invalid(
                "quantity_decimal",
                "You may only specify one of quantity and quantity_decimal.",
                code="parameters_exclusive",
            )
        qty = (
            to_decimal(qty_dec, "quantity_decimal")
            if qty_dec not in (None, "")
            else Decimal(quantity)
            if quantity is not None
            else Decimal(item.get("quantity_decimal") or 1)
        )
        if amount is not None and unit_raw not in (None, ""):
            raise invalid(
                "amount",
                f"You may only specify one of these parameters: amount, {unit_param}.",
                code="parameters_exclusive",
            )
        if amount is not None:
            unit = (Decimal(amount) / qty).quantize(Decimal("1e-12")) if qty else Decimal(amount)
        elif unit_raw not in (None, ""):
            unit = to_decimal(unit_raw, unit_param)
            if unit_param == "price_data[unit_amount]":
                unit = Decimal(to_int(unit_raw, unit_param))
            amount = int((unit * qty).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        elif creating:
            raise missing("amount")
        elif quantity is not None or qty_dec not in (None, ""):
            unit = Decimal(item["pricing"]["unit_amount_decimal"])
            amount = int((unit * qty).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        else:
            return
        item.update(
            amount=amount,
            net_amount=amount,
            quantity=int(qty),
            quantity_decimal=decimal_str(qty),
            pricing={
                "price_details": None,
                "type": "price_details",
                "unit_amount_decimal": decimal_str(unit),
            },
        )

    def _apply_item_params(self, item: dict[str, Any], p: dict[str, Any], creating: bool):
        self._price_item(item, p, creating)
        if "description" in p:
            item["description"] = get_str(p, "description")
        discountable = get_bool(p, "discountable")
        if discountable is not None:
            item["discountable"] = discountable
        elif creating:
            item["discountable"] = item["amount"] >= 0
        period = p.get("period")
        if period is not None:
            if not isinstance(period, dict):
                raise invalid("period", "Invalid hash")
            check_unknown(period, frozenset({"start", "end"}))
            start = get_int(period, "start", required=True)
            end = get_int(period, "end", required=True)
            if end < start:
                raise invalid("period[end]", "The period end must be after the period start.")
            item["period"] = {"start": start, "end": end}
        item["metadata"] = merge_metadata(item.get("metadata"), p.get("metadata"))

    def create_invoiceitem(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, ITEM_CREATE)
        cust = self.customer(get_str(p, "customer", required=True), "customer")
        invoice_id = get_str(p, "invoice")
        inv = self.get("invoice", invoice_id, "invoice") if invoice_id else None
        currency = currency_param(p) or (inv and inv["currency"]) or cust["currency"] or "usd"
        if inv is not None:
            if inv["customer"] != cust["id"]:
                raise invalid(
                    "invoice",
                    f"Invoice {invoice_id} belongs to customer "
                    f"{inv['customer']}, not {cust['id']}.",
                )
            if currency != inv["currency"]:
                raise invalid(
                    "currency",
                    f"The currency {currency} does not match the "
                    f"invoice currency {inv['currency']}.",
                )
        now = self.now()
        item: dict[str, Any] = {
            "id": new_id("ii_", 24),
            "object": "invoiceitem",
            "currency": currency,
            "customer": cust["id"],
            "date": now,
            "description": None,
            "discounts": [],
            "invoice": invoice_id,
            "livemode": False,
            "metadata": {},
            "parent": None,
            "period": {"start": now, "end": now},
            "proration": False,
            "tax_rates": [],
            "test_clock": None,
        }
        self._apply_item_params(item, p, creating=True)
        self._require_editable(invoice_id)
        self.data["invoiceitem"][item["id"]] = item
        return copy.deepcopy(item)

    def retrieve_invoiceitem(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        return copy.deepcopy(self.get("invoiceitem", obj_id))

    def update_invoiceitem(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, ITEM_UPDATE)
        item = self.get("invoiceitem", obj_id)
        updated = copy.deepcopy(item)
        self._apply_item_params(updated, p, creating=False)
        self._require_editable(item["invoice"])
        item.update(updated)
        return copy.deepcopy(item)

    def delete_invoiceitem(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        item = self.get("invoiceitem", obj_id)
        self._require_editable(item["invoice"])
        del self.data["invoiceitem"][obj_id]
        return {"id": obj_id, "object": "invoiceitem", "deleted": True}

    def list_invoiceitems(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, ITEM_LIST)
        customer, invoice = get_str(p, "customer"), get_str(p, "invoice")
        pending = get_bool(p, "pending")
        objs = [
            copy.deepcopy(i)
            for i in reversed(self.data["invoiceitem"].values())
            if (customer is None or i["customer"] == customer)
            and (invoice is None or i["invoice"] == invoice)
            and (pending is None or (i["invoice"] is None) == pending)
            and created_matches({"created": i["date"]}, p.get("created"))
        ]
        return self.paginate("invoiceitem", "/v1/invoiceitems", objs, p)
