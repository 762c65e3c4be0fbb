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
