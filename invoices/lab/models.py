"""Pricing lab: backtests of plan versions on real usage and provider cost.

A :class:`Backtest` re-rates chosen customers' past periods under a candidate version
(``invoices.lab.backtest_service``); each customer-period's answer is a
:class:`BacktestResult` row, stored once (a unique constraint, so a task that runs twice
writes nothing twice). Summaries are computed from the rows by
``invoices.lab.backtest_selectors``, never stored.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from accounts.models import Customer
from common.bounds import IntegerRangeValidator
from plans.models import Plan, PlanVersion

MAX_BACKTEST_PERIODS = 36  # three years of monthly periods; the billing run's cap too
MONEY = {"max_digits": 28, "decimal_places": 10}
COST = {"max_digits": 28, "decimal_places": 12}  # as usage.Event.provider_cost


class Backtest(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    plan_version = models.ForeignKey(
        PlanVersion, on_delete=models.PROTECT, related_name="+",
        help_text="The candidate version (draft or published) every period is re-rated on.")
    periods = models.PositiveSmallIntegerField(
        validators=[IntegerRangeValidator(1, MAX_BACKTEST_PERIODS)],
        help_text="How many of each customer's latest ended periods on the plan.")
    customers = models.JSONField(
        default=list, blank=True,
        help_text="External ids of the customers to re-rate; empty: every customer with a "
                  "contract on the plan.")
    as_of = models.DateTimeField(help_text="Periods ended by then are backtested.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    customers_total = models.PositiveIntegerField(default=0)
    customers_done = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=list, blank=True, help_text="[{customer, error}]")
    error = models.TextField(blank=True, help_text="Why the backtest as a whole failed.")
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"backtest of {self.plan_version} over {self.periods} periods ({self.status})"

    @property
    def progress(self) -> Decimal:
        """0 to 1: customers rated of customers chosen (1 once done, also with none)."""
        if self.status == self.Status.DONE:
            return Decimal(1)
        if not self.customers_total:
            return Decimal(0)
        return (Decimal(self.customers_done) / self.customers_total).quantize(Decimal("0.0001"))


class BacktestResult(models.Model):
    """One customer-period: what it was billed (or its own version gives) and what the
    candidate gives, beside the provider cost of its events."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="results")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    contract_id = models.BigIntegerField(help_text="The contract the period belongs to.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    currency = models.CharField(max_length=3)
    current_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="+")
    invoiced = models.BooleanField(
        help_text="The current total is the period's invoice; else its own version rated now.")
    current_total = models.DecimalField(**MONEY)
    candidate_total = models.DecimalField(**MONEY)
    provider_cost = models.DecimalField(**COST)
    billed_seats = models.DecimalField(max_digits=18, decimal_places=6,
                                       help_text="SPEC 2 step 1, under the candidate.")

    class Meta:
        ordering = ["backtest", "customer_id", "period_start"]
        constraints = [
            models.UniqueConstraint(fields=["backtest", "customer", "period_start"],
                                    name="backtest_result_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.period_start:%Y-%m-%d}"

    @property
    def change(self) -> Decimal:
        return self.candidate_total - self.current_total
