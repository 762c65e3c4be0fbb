"""The invoice API's schema describes exactly the documents it sends (invoices/documents.py):
every key of a real invoice, upcoming invoice, line and tier, and no other."""

from __future__ import annotations

import pytest
import time_machine
from drf_spectacular.generators import SchemaGenerator

from invoices.models import Invoice, InvoiceLine
from invoices.services import billing_run, invoice_finalize
from tests.factories import PlanFactory, make_version
from tests.invoices.billing_fixtures import add_events, at, tasks_metric, worked_example

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def components() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]


def properties(components: dict, name: str) -> set[str]:
    return set(components[name]["properties"])


def assert_documented(body: dict, name: str, components: dict) -> None:
    assert set(body) == properties(components, name)
    for line in body["lines"]:
        assert set(line) == properties(components, "InvoiceLine")
        for tier in line["tiers"]:
            assert set(tier) == properties(components, "Tier")


@pytest.fixture
def capped():
    """Every kind but late usage on one invoice: seats, a base fee, graduated usage over
    its cap, a discount, and a minimum commitment above it all."""
    tasks_metric()
    version = make_version(plan=PlanFactory(code="everything"), base_fee="10.00", charges=[
        {"metric": "tasks", "model": "graduated", "tiers": [
            {"up_to": 1000, "unit_price": "0.05"}, {"up_to": None, "unit_price": "0.04"}]}])
    return worked_example(external_id="capped", version=version, overage_cap="100.00",
                          discount_percent="10", minimum_commitment="1000.00")


@pytest.fixture
def late():
    """October billed and finalized, then October events arrive: late usage in November."""
    return worked_example(external_id="late")


def test_every_component_key_is_always_sent(components):
    for name in ("Invoice", "UpcomingInvoice", "InvoiceLine", "Tier"):
        assert set(components[name]["required"]) == properties(components, name)


def test_saved_invoices_of_every_line_kind_have_exactly_the_documented_keys(
        api, components, capped, late):
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice_finalize(invoice=Invoice.objects.get(customer__external_id="late"),
                     now=at(2026, 11, 1, 2))
    add_events(late.customer, count=300, when=at(2026, 10, 20), received_at=at(2026, 11, 5))
    billing_run(as_of=at(2026, 12, 1, 1), now=at(2026, 12, 1, 1))

    bodies = [api.get(f"/api/v1/invoices/{pk}").json()
              for pk in Invoice.objects.values_list("pk", flat=True)]

    assert {line["kind"] for body in bodies for line in body["lines"]} == set(
        InvoiceLine.Kind.values)
    assert any(line["tiers"] for body in bodies for line in body["lines"])
    for body in bodies:
        assert_documented(body, "Invoice", components)


def test_upcoming_invoices_have_exactly_the_documented_keys(api, components, capped, late):
    billing_run(as_of=at(2026, 11, 1, 1), now=at(2026, 11, 1, 1))
    invoice_finalize(invoice=Invoice.objects.get(customer__external_id="late"),
                     now=at(2026, 11, 1, 2))
    add_events(late.customer, count=300, when=at(2026, 10, 20), received_at=at(2026, 11, 5))

    with time_machine.travel(at(2026, 11, 10), tick=False):
        bodies = [api.get(f"/api/v1/customers/{name}/upcoming-invoice").json()
                  for name in ("capped", "late")]
    october = api.get("/api/v1/customers/capped/upcoming-invoice?at=2026-10-25T00:00:00Z").json()

    kinds = {line["kind"] for body in [*bodies, october] for line in body["lines"]}
    assert kinds == set(InvoiceLine.Kind.values)
    for body in [*bodies, october]:
        assert_documented(body, "UpcomingInvoice", components)
