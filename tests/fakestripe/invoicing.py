"""Invoice and invoice-item endpoints of the fake Stripe server (mixed into ``Store``).

Behaviour follows Stripe's documented rules for the calls we make:

* invoices start as ``draft``; ``finalize`` moves draft -> open and assigns
  ``number = "<customer.invoice_prefix>-<next_invoice_sequence:04d>"``; an invoice whose
  ``amount_due`` is 0 is marked ``paid`` on finalization, as Stripe does;
* ``void`` works on open/uncollectible invoices, ``pay`` on draft (finalizes first),
  open or uncollectible ones (the fake always succeeds - there are no payment methods);
* invoice-item rules are in :mod:`invoiceitems`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .encoding import (
    check_unknown,
    created_matches,
    get_bool,
    get_int,
    get_str,
    invalid,
    merge_metadata,
    new_id,
    state_error,
)

INVOICE_FIELDS = frozenset(
    "account_tax_ids application_fee_amount auto_advance automatic_tax "
    "automatically_finalizes_at collection_method custom_fields days_until_due "
    "default_payment_method default_source default_tax_rates description discounts due_date "
    "effective_at footer issuer metadata number on_behalf_of payment_settings rendering "
    "shipping_cost shipping_details statement_descriptor transfer_data".split()
)
INVOICE_CREATE = INVOICE_FIELDS | {
    "currency",
    "customer",
    "customer_account",
    "from_invoice",
    "pending_invoice_items_behavior",
    "subscription",
}
INVOICE_LIST = frozenset(
    "collection_method created customer customer_account due_date ending_before limit "
    "starting_after status subscription".split()
)
PAY_PARAMS = frozenset("forgive mandate off_session paid_out_of_band payment_method source".split())
# Invoice fields that may still change once the invoice is no longer a draft.
FINALIZED_EDITABLE = frozenset(
    "auto_advance description footer metadata custom_fields rendering".split()
)
EMBEDDED_LINES = 10


def currency_param(p: dict[str, Any]) -> str | None:
    value = get_str(p, "currency")
    if value is not None and not re.fullmatch(r"[A-Za-z]{3}", value):
        raise invalid("currency", f"Invalid currency: {value}")
    return value.lower() if value else None


class InvoicingMixin:
    # Provided by Store: now(), get(), customer(), paginate()
    data: dict[str, dict[str, dict[str, Any]]]

    # ------------------------------------------------------------------ rendering

    def _items_of(self, invoice_id: str) -> list[dict[str, Any]]:
        return [i for i in self.data["invoiceitem"].values() if i["invoice"] == invoice_id]

    def _line(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "il_" + item["id"][3:],
            "object": "line_item",
            "amount": item["amount"],
            "currency": item["currency"],
            "description": item["description"],
            "discount_amounts": [],
            "discountable": item["discountable"],
            "discounts": [],
            "invoice": item["invoice"],
            "livemode": False,
            "metadata": dict(item["metadata"]),
            "parent": {
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": item["id"],
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
            },
            "period": dict(item["period"]),
            "pretax_credit_amounts": [],
            "pricing": copy.deepcopy(item["pricing"]),
            "quantity": item["quantity"],
            "subtotal": item["amount"],
            "taxes": [],
        }

    def render_invoice(self, inv: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(inv)
        lines = [self._line(i) for i in self._items_of(inv["id"])]
        total = sum(line["amount"] for line in lines)
        amount_due = max(total, 0)
        settled = inv["status"] in ("paid", "void")
        out.update(
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
            amount_due=amount_due,
            amount_remaining=0 if settled else amount_due - inv["amount_paid"],
            lines={
                "object": "list",
                "data": lines[:EMBEDDED_LINES],
                "has_more": len(lines) > EMBEDDED_LINES,
                "total_count": len(lines),
                "url": f"/v1/invoices/{inv['id']}/lines",
            },
        )
        return out

    # ------------------------------------------------------------------ invoices

    def _invoice_dates(self, inv: dict[str, Any], p: dict[str, Any]) -> None:
        method = inv["collection_method"]
        days = get_int(p, "days_until_due", minimum=0)
        due_date = get_int(p, "due_date")
        if method == "charge_automatically":
            if days is not None or due_date is not None:
                raise invalid(
                    "days_until_due" if days is not None else "due_date",
                    "Invoices with collection_method=charge_automatically cannot have "
                    "days_until_due or due_date.",
                )
            inv["due_date"] = None
        elif days is not None:
            inv["due_date"] = inv["created"] + days * 86400
        elif due_date is not None:
            inv["due_date"] = due_date
        elif inv.get("due_date") is None:
            raise invalid(
                "days_until_due",
                "Invoices with collection_method=send_invoice require days_until_due or due_date.",
                code="parameter_missing",
            )

    def _snapshot_customer(self, inv: dict[str, Any], cust: dict[str, Any]) -> None:
        for field in ("email", "name", "phone", "address", "shipping", "tax_exempt"):
            inv[f"customer_{field}"] = copy.deepcopy(cust.get(field))

    def create_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, INVOICE_CREATE)
        cust = self.customer(get_str(p, "customer", required=True), "customer")
        behavior = get_str(
            p,
            "pending_invoice_items_behavior",
            choices=("exclude", "include"),
            default="exclude",
        )
        now = self.now()
        inv: dict[str, Any] = {
            "id": new_id("in_", 24),
            "object": "invoice",
            "account_country": "US",
            "account_name": "Fake Stripe",
            "amount_overpaid": 0,
            "amount_paid": 0,
            "amount_shipping": 0,
            "attempt_count": 0,
            "attempted": False,
            "auto_advance": bool(get_bool(p, "auto_advance")),
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_reason": "manual",
            "collection_method": get_str(
                p,
                "collection_method",
                choices=("charge_automatically", "send_invoice"),
                default="charge_automatically",
            ),
            "created": now,
            "currency": currency_param(p) or cust["currency"] or "usd",
            "custom_fields": p.get("custom_fields") or None,
            "customer": cust["id"],
            "default_payment_method": None,
            "description": get_str(p, "description"),
            "discounts": [],
            "due_date": None,
            "effective_at": None,
            "ending_balance": None,
            "footer": get_str(p, "footer"),
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "last_finalization_error": None,
            "livemode": False,
            "metadata": merge_metadata({}, p.get("metadata")),
            "next_payment_attempt": None,
            "number": get_str(p, "number"),
            "parent": None,
            "period_end": now,
            "period_start": now,
            "starting_balance": 0,
            "statement_descriptor": get_str(p, "statement_descriptor"),
            "status": "draft", "paid_out_of_band": False,
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "total_discount_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": None,
        }
        self._snapshot_customer(inv, cust)
        self._invoice_dates(inv, p)
        self.data["invoice"][inv["id"]] = inv
        if behavior == "include":
            for item in self.data["invoiceitem"].values():
                if (
                    item["customer"] == cust["id"]
                    and item["invoice"] is None
                    and item["currency"] == inv["currency"]
                ):
                    item["invoice"] = inv["id"]
        return self.render_invoice(inv)

    def retrieve_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        return self.render_invoice(self.get("invoice", obj_id))

    def update_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, INVOICE_FIELDS)
        inv = self.get("invoice", obj_id)
        if inv["status"] != "draft":
            frozen = sorted(set(p) - FINALIZED_EDITABLE - {"expand"})
            if frozen or (inv["status"] in ("paid", "void") and "auto_advance" in p):
                raise state_error(
                    f"Invoice {obj_id} is {inv['status']}; only draft invoices can change "
                    f"{', '.join(frozen) or 'auto_advance'}.",
                    code="invoice_not_editable",
                )
        updated = copy.deepcopy(inv)
        for name in ("description", "footer", "statement_descriptor", "number"):
            if name in p:
                updated[name] = get_str(p, name)
        if "auto_advance" in p:
            updated["auto_advance"] = bool(get_bool(p, "auto_advance"))
        if "collection_method" in p:
            updated["collection_method"] = get_str(
                p,
                "collection_method",
                choices=("charge_automatically", "send_invoice"),
                required=True,
            )
        if "collection_method" in p or "days_until_due" in p or "due_date" in p:
            self._invoice_dates(updated, p)
        updated["metadata"] = merge_metadata(inv["metadata"], p.get("metadata"))
        inv.update(updated)
        return self.render_invoice(inv)

    def delete_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        inv = self.get("invoice", obj_id)
        if inv["status"] != "draft":
            raise state_error("You can only delete draft invoices.", code="invoice_not_editable")
        for item in self._items_of(obj_id):
            item["invoice"] = None  # back to pending
        del self.data["invoice"][obj_id]
        return {"id": obj_id, "object": "invoice", "deleted": True}

    def list_invoices(self, p: dict[str, Any]) -> dict[str, Any]:
        check_unknown(p, INVOICE_LIST)
        customer = get_str(p, "customer")
        status = get_str(p, "status", choices=("draft", "open", "paid", "uncollectible", "void"))
        method = get_str(p, "collection_method")
        objs = [
            self.render_invoice(i)
            for i in reversed(self.data["invoice"].values())
            if (customer is None or i["customer"] == customer)
            and (status is None or i["status"] == status)
            and (method is None or i["collection_method"] == method)
            and created_matches(i, p.get("created"))
        ]
        return self.paginate("invoice", "/v1/invoices", objs, p)

    def list_invoice_lines(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset({"limit", "starting_after", "ending_before"}))
        self.get("invoice", obj_id)
        lines = [self._line(i) for i in self._items_of(obj_id)]
        return self.paginate("line_item", f"/v1/invoices/{obj_id}/lines", lines, p)

    def finalize_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset({"auto_advance"}))
        inv = self.get("invoice", obj_id)
        if inv["status"] != "draft":
            raise state_error(
                "This invoice is already finalized, you can't re-finalize a non-draft invoice."
            )
        auto_advance = get_bool(p, "auto_advance")
        cust = self.data["customer"][inv["customer"]]
        now = self.now()
        if inv["number"] is None:
            inv["number"] = f"{cust['invoice_prefix']}-{cust['next_invoice_sequence']:04d}"
            cust["next_invoice_sequence"] += 1
        if cust["currency"] is None:
            cust["currency"] = inv["currency"]
        self._snapshot_customer(inv, cust)
        inv.update(
            status="open",
            effective_at=now,
            ending_balance=0,
            hosted_invoice_url=f"https://invoice.stripe.com/i/fake/{obj_id}",
            invoice_pdf=f"https://pay.stripe.com/invoice/fake/{obj_id}/pdf",
        )
        if auto_advance is not None:
            inv["auto_advance"] = auto_advance
        inv["status_transitions"]["finalized_at"] = now
        if self.render_invoice(inv)["amount_due"] == 0:
            self._mark_paid(inv, now)
        return self.render_invoice(inv)

    def _mark_paid(self, inv: dict[str, Any], now: int) -> None:
        inv["amount_paid"] = self.render_invoice(inv)["amount_due"]
        inv.update(status="paid", auto_advance=False, attempted=True)
        inv["status_transitions"]["paid_at"] = now

    def void_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        inv = self.get("invoice", obj_id)
        if inv["status"] not in ("open", "uncollectible"):
            raise state_error(
                f"You can only void open or uncollectible invoices; invoice {obj_id} is "
                f"{inv['status']}."
            )
        inv.update(status="void", auto_advance=False)
        inv["status_transitions"]["voided_at"] = self.now()
        return self.render_invoice(inv)

    def pay_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, PAY_PARAMS)
        out_of_band = get_bool(p, "paid_out_of_band")
        inv = self.get("invoice", obj_id)
        if inv["status"] == "draft":
            self.finalize_invoice({}, obj_id)
            if inv["status"] == "paid":  # amount_due was 0
                return self.render_invoice(inv)
        if inv["status"] == "paid":
            raise state_error("Invoice is already paid.")
        if inv["status"] not in ("open", "uncollectible"):
            raise state_error(f"You cannot pay a {inv['status']} invoice.")
        self._mark_paid(inv, self.now())
        inv["paid_out_of_band"] = bool(out_of_band)
        return self.render_invoice(inv)

    def mark_uncollectible_invoice(self, p: dict[str, Any], obj_id: str) -> dict[str, Any]:
        check_unknown(p, frozenset())
        inv = self.get("invoice", obj_id)
        if inv["status"] != "open":
            raise state_error(
                f"You can only mark open invoices uncollectible; invoice {obj_id} is "
                f"{inv['status']}."
            )
        inv["status"] = "uncollectible"
        inv["status_transitions"]["marked_uncollectible_at"] = self.now()
        return self.render_invoice(inv)
