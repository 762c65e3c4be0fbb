"""Backtests over HTTP. Thin: parse, call the service or a selector, render. Every route
needs an admin-scope key."""

from __future__ import annotations

from collections.abc import Callable

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from common.api.fields import query_text
from common.api.pagination import MAX_PAGE_LIMIT, query_integer
from common.api.schema import error_response
from common.api.serializers import validated_data
from common.bounds import MAX_INTEGER
from invoices.lab.api import backtest_examples as examples
from invoices.lab.api.serializers import (
    BacktestRequestSerializer,
    BacktestSerializer,
    BacktestStatusField,
)
from invoices.lab.backtest_selectors import backtest_get, backtest_results, backtest_summary
from invoices.lab.backtest_service import backtest_create
from invoices.lab.models import Backtest
from invoices.lab.tasks import queue_backtest


class BacktestCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = BacktestStatusField()
    progress = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False)


# A backtest of 10,000 customers over 3 periods has 30,000 results: they are paged like
# every list (at most 1,000 a page); the summary always covers all of them.
RESULTS_PAGE = MAX_PAGE_LIMIT


def backtest_document(backtest: Backtest, *, customer: str | None = None,
                      limit: int = RESULTS_PAGE, offset: int = 0,
                      next_url: Callable[[int], str] | None = None) -> dict:
    summary = backtest_summary(backtest=backtest)
    currency = backtest.plan_version.currency
    rows = backtest_results(backtest=backtest, customer=customer)
    count = rows.count()
    more = offset + limit < count and next_url is not None
    return {
        "id": backtest.pk, "status": backtest.status, "progress": backtest.progress,
        "customers_total": backtest.customers_total, "customers_done": backtest.customers_done,
        "plan": backtest.plan, "plan_version": backtest.plan_version,
        "periods": backtest.periods, "customers": backtest.customers, "as_of": backtest.as_of,
        "error": backtest.error, "failures": backtest.failures,
        "created_at": backtest.created_at, "started_at": backtest.started_at,
        "finished_at": backtest.finished_at,
        "results_count": count,
        "next": next_url(offset + limit) if more else None,
        "results": rows[offset:offset + limit],
        "summary": {
            "currency": currency, "current_total": summary.current_total,
            "candidate_total": summary.candidate_total, "change": summary.change,
            "provider_cost": summary.provider_cost, "margin_before": summary.margin_before,
            "margin_after": summary.margin_after,
            "margin_rate_before": summary.margin_rate_before,
            "margin_rate_after": summary.margin_rate_after, "customers": summary.customers,
            "customers_paying_more": summary.customers_paying_more,
            "customers_paying_less": summary.customers_paying_less,
            "customers_unchanged": summary.customers_unchanged,
            "biggest_winners": [_change(c, currency) for c in summary.biggest_winners],
            "biggest_losers": [_change(c, currency) for c in summary.biggest_losers],
        },
    }


def _change(change, currency: str) -> dict:
    return {"customer": change.customer, "current_total": change.current_total,
            "candidate_total": change.candidate_total, "change": change.change,
            "provider_cost": change.provider_cost, "currency": currency}


class BacktestListView(APIView):
    @extend_schema(
        summary="Start a backtest",
        description="Re-rates each chosen customer's latest `periods` ended periods on plan "
                    "`plan` under version `plan_version` (draft or published), with the same "
                    "load step and engine as billing runs, and compares each with what was "
                    "invoiced (or, without an invoice, what the customer's own version gives) "
                    "and with the provider cost of the period's events. `customers` defaults "
                    "to every customer with a contract on the plan. Answers 202 at once; "
                    "follow it at `GET /api/v1/backtests/{id}` (the `Location` header).",
        request=BacktestRequestSerializer,
        parameters=[OpenApiParameter(
            "Location", str, location=OpenApiParameter.HEADER, response=[202],
            description="Where to follow the backtest.")],
        responses={202: BacktestCreatedSerializer},
        examples=examples.CREATE,
    )
    def post(self, request: Request) -> Response:
        data = validated_data(BacktestRequestSerializer, request.data)
        backtest = backtest_create(plan=data["plan"], plan_version=data["plan_version"],
                                   periods=data["periods"], customers=data.get("customers"),
                                   now=timezone.now())
        queue_backtest(backtest)
        backtest.refresh_from_db()  # an eager worker (tests, the demo) may have run it already
        return Response(BacktestCreatedSerializer(backtest).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/backtests/{backtest.pk}"})


@extend_schema(
    summary="Follow a backtest",
    description="Its status (queued, running, done, failed), progress from 0 to 1, one result "
                "per customer-period (current and candidate totals, the change and the "
                "provider cost, money as decimal strings), and the summary: totals, margins "
                "before and after, how many customers pay more or less, and the biggest "
                "winners and losers. `customer` narrows the results to one customer. The "
                "results come a page at a time (`limit`, at most 1,000, and `offset`; `next` "
                "links the following page); the summary always covers every result.",
    parameters=[
        OpenApiParameter("customer", str, description="A customer's external_id."),
        OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT,
                                   "default": RESULTS_PAGE},
                         description="Results per page."),
        OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER,
                                    "default": 0},
                         description="Results to skip."),
    ],
    responses={200: BacktestSerializer, 404: error_response(404, "No backtest with that id.")},
    examples=examples.GET,
)
class BacktestDetailView(APIView):
    def get(self, request: Request, backtest_id: str) -> Response:
        backtest = backtest_get(backtest_id=backtest_id)
        if backtest is None:
            raise NotFound(f"No backtest with id {backtest_id!r}.")
        limit = query_integer(request, "limit", minimum=1, maximum=MAX_PAGE_LIMIT,
                              default=RESULTS_PAGE)
        offset = query_integer(request, "offset", minimum=0, maximum=MAX_INTEGER, default=0)

        def next_url(start: int) -> str:
            return replace_query_param(
                replace_query_param(request.build_absolute_uri(), "offset", start), "limit", limit)

        document = backtest_document(backtest, customer=query_text(request, "customer"),
                                     limit=limit, offset=offset, next_url=next_url)
        return Response(BacktestSerializer(document).data)
