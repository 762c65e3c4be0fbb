"""The pricing lab over HTTP: archetypes and recommendations of a plan, and the draft
version a recommendation makes. Thin: parse, call one selector or service, render.
Every route needs an admin-scope key."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api.fields import NUL_TEXT
from common.api.serializers import has_nul, validated_data
from invoices.lab.api import pricing_examples as examples
from invoices.lab.api.pricing_serializers import (
    PricingArchetypesSerializer,
    PricingPlanPeriodsSerializer,
    PricingRecommendationRequestSerializer,
    PricingRecommendationSerializer,
    archetypes_data,
    recommendation_data,
)
from invoices.lab.customer_periods import NoPriceBook
from invoices.lab.pricing_selectors import Settings, plan_distribution, plan_recommendation
from invoices.lab.recommendations import EmptySample, Recommendation, recommendation_draft
from plans.api.serializers import PlanVersionSerializer
from plans.models import Plan
from plans.selectors import plan_get, plan_version_get


def query_data(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The query string's declared parameters, validated like a body (other parameters
    are ignored, as list filters do)."""
    names = serializer_class().fields
    data = {name: value for name, value in request.query_params.items() if name in names}
    if bad := {name: [NUL_TEXT] for name, value in data.items() if has_nul(value)}:
        raise serializers.ValidationError(bad)
    return validated_data(serializer_class, data)


def plan_or_400(code: str) -> Plan:
    plan = plan_get(code=code)
    if plan is None:
        raise serializers.ValidationError({"plan": [f"No plan with code {code!r}."]})
    return plan


def recommendation_or_400(plan: Plan, data: dict) -> Recommendation:
    settings = Settings(percentile=data["percentile"], target_margin=data["target_margin"],
                        share=data["share"])
    try:
        return plan_recommendation(plan=plan, periods=data["periods"], now=timezone.now(),
                                   settings=settings)
    except NoPriceBook as error:
        raise serializers.ValidationError({"plan": [str(error)]}) from None
    except EmptySample:
        raise serializers.ValidationError({"periods": [
            f"Plan {plan.code!r} has no ended customer-period with billed seats over the "
            f"last {data['periods']} periods: nothing to recommend from."]}) from None


class ArchetypesView(APIView):
    @extend_schema(
        operation_id="pricing_archetypes", summary="Archetypes of a plan", tags=["pricing"],
        description="Light, median, heavy and tail users (P20, P50, P80 and P95) of per-seat "
                    "provider cost and of each metric's per-seat usage, over each customer's "
                    "latest `periods` ended periods on `plan` (the customer-periods a backtest "
                    "re-rates). Per-seat = the period's figure / its billed seats (SPEC 2 "
                    "step 1); customer-periods with 0 billed seats are left out and counted. "
                    "Percentiles interpolate linearly between closest ranks (numpy's default).",
        parameters=[PricingPlanPeriodsSerializer], responses={200: PricingArchetypesSerializer},
        examples=examples.ARCHETYPES,
    )
    def get(self, request: Request) -> Response:
        data = query_data(PricingPlanPeriodsSerializer, request)
        plan = plan_or_400(data["plan"])
        try:
            book, found = plan_distribution(plan=plan, periods=data["periods"],
                                            now=timezone.now())
        except NoPriceBook as error:
            raise serializers.ValidationError({"plan": [str(error)]}) from None
        body = archetypes_data(plan=plan.code, periods=data["periods"], currency=book.currency,
                               found=found)
        return Response(PricingArchetypesSerializer(body, context={"currency": book.currency}).data)


class RecommendationsView(APIView):
    @extend_schema(
        operation_id="pricing_recommendations", summary="Recommendations for a plan",
        tags=["pricing"],
        description="The seat price that covers the `percentile`-th per-seat cost at "
                    "`target_margin` (P(k) / (1 − margin), rounded up to the minor unit), the "
                    "per-seat allowance per metric that `share` of customer-periods stay "
                    "within (rounded up to a whole unit), and the seat-only verdict: unsafe "
                    "when P95 / P20 of per-seat cost exceeds 10, with the money at stake. "
                    "400 naming `periods` when there is nothing to recommend from.",
        parameters=[PricingRecommendationRequestSerializer], responses={200: PricingRecommendationSerializer},
        examples=examples.RECOMMENDATION,
    )
    def get(self, request: Request) -> Response:
        data = query_data(PricingRecommendationRequestSerializer, request)
        plan = plan_or_400(data["plan"])
        found = recommendation_or_400(plan, data)
        body = recommendation_data(plan=plan.code, periods=data["periods"], found=found)
        return Response(PricingRecommendationSerializer(body, context={"currency": found.currency}).data)

    @extend_schema(
        operation_id="pricing_recommendations_draft", summary="Draft a version from them",
        tags=["pricing"],
        request=PricingRecommendationRequestSerializer, responses={201: PlanVersionSerializer},
        description="Makes the recommendation as GET does, then a draft version of the plan: "
                    "a copy of its current version with the recommended seat price, and the "
                    "recommended allowance as `included_per_seat` on each charge of a "
                    "recommended metric (charges with their own filters keep theirs), "
                    "effective today. Backtest it, then publish it.",
        examples=examples.DRAFT,
    )
    def post(self, request: Request) -> Response:
        data = validated_data(PricingRecommendationRequestSerializer, request.data)
        plan = plan_or_400(data["plan"])
        found = recommendation_or_400(plan, data)
        draft = recommendation_draft(plan=plan, recommendation=found,
                                     today=timezone.now().date())
        fresh = plan_version_get(plan=plan, version=draft.version)
        return Response(PlanVersionSerializer(fresh).data, status=status.HTTP_201_CREATED)
