"""factory_boy factories for the domain. Published versions are built through services
so the immutability guard is respected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.models import Customer, Seat
from plans.models import Contract, Metric, Plan, PlanVersion
from plans.services import plan_version_create, plan_version_publish


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"cust-{n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda o: f"billing@{o.external_id}.test")
    currency = "USD"


class SeatFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seat

    customer = factory.SubFactory(CustomerFactory)
    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Sequence(lambda n: f"User {n}")
    active_from = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    active_until = None


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Metric
        django_get_or_create = ("code",)

    code = "tasks"
    name = "Tasks completed"
    event_type = "task.completed"
    aggregation = Metric.Aggregation.COUNT
    field = ""
    filters = factory.LazyFunction(dict)


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    code = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")


def make_version(*, plan: Plan | None = None, publish: bool = True, effective_from=dt.date(2026, 1, 1),
                 currency: str = "USD", billing_interval: str = "month",
                 seat_price: Decimal | str = "40.00", base_fee: Decimal | str = "0",
                 charges: list[dict] | None = None) -> PlanVersion:
    plan = plan or PlanFactory()
    version = plan_version_create(
        plan=plan, effective_from=effective_from, currency=currency,
        billing_interval=billing_interval, seat_price=seat_price, base_fee=base_fee,
        charges=charges or [],
    )
    if publish:
        version = plan_version_publish(version=version, now=timezone.now())
    return version


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    plan_version = factory.LazyFunction(make_version)
    start_date = dt.date(2026, 10, 1)
    anchor_date = factory.LazyAttribute(lambda o: o.start_date)
    end_date = None
    committed_seats = 0


def row_counts() -> dict[str, int]:
    """Rows per domain table, to show a refused request wrote nothing.

    API keys are left out: authenticating a request may stamp ``last_used_at``.
    """
    from plans.models import Charge, ChargeTier, ContractMigration

    models = (Customer, Seat, Metric, Plan, PlanVersion, Charge, ChargeTier, Contract,
              ContractMigration)
    return {model.__name__: model.objects.count() for model in models}


class ModelPriceFactory(factory.django.DjangoModelFactory):
    """A provider's price for one model (USD per 1M tokens)."""

    class Meta:
        model = "usage.ModelPrice"

    provider = "openai"
    model = "gpt-4.1-mini"
    input_per_million = Decimal("0.40")
    output_per_million = Decimal("1.60")
    per_call = Decimal("0")
    effective_from = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class EventFactory(factory.django.DjangoModelFactory):
    """An accepted usage event written directly, for tests of what happens after ingestion."""

    class Meta:
        model = "usage.Event"

    customer = factory.SubFactory(CustomerFactory)
    transaction_id = factory.Sequence(lambda n: f"tx-{n}")
    event_type = "task.completed"
    timestamp = dt.datetime(2026, 10, 5, 12, 0, tzinfo=dt.UTC)
    properties = factory.LazyFunction(dict)
    received_at = factory.LazyAttribute(lambda o: o.timestamp)


class InvoiceFactory(factory.django.DjangoModelFactory):
    """A draft invoice written directly. Add lines while it is a draft, then move it on
    with ``Invoice.objects.filter(pk=...).update(status=...)`` (lines of a finalized
    invoice are frozen)."""

    class Meta:
        model = "invoices.Invoice"

    customer = factory.SubFactory(CustomerFactory)
    contract = factory.SubFactory(ContractFactory, customer=factory.SelfAttribute("..customer"))
    plan_version = factory.SelfAttribute("contract.plan_version")
    period_start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    period_end = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    currency = factory.SelfAttribute("plan_version.currency")
    status = "draft"


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "invoices.InvoiceLine"

    invoice = factory.SubFactory(InvoiceFactory)
    position = factory.Sequence(lambda n: n + 1)
    kind = "base_fee"
    description = factory.Sequence(lambda n: f"Line {n}")
    amount = Decimal("10.00")


def admin_form_data(response, **changes) -> dict:
    """What the admin change form rendered in ``response`` would post back, with ``changes``.

    Covers the main form and every inline formset (management forms included), so a test
    can change one field and post the page the way a browser would.
    """
    from django import forms

    def field_data(bound) -> dict:
        value = bound.value()
        widget = bound.field.widget
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            return {f"{bound.html_name}{suffix}": "" if part is None else str(part)
                    for suffix, part in zip(widget.widgets_names, parts, strict=True)}
        if isinstance(widget, forms.CheckboxInput):
            return {bound.html_name: "on"} if value else {}
        return {bound.html_name: "" if value is None else str(value)}

    data: dict = {}
    context = response.context
    for bound in context["adminform"].form:
        data.update(field_data(bound))
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in formset.management_form:
            data.update(field_data(bound))
        for form in formset.forms:
            for bound in form:
                data.update(field_data(bound))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data
