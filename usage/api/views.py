"""Usage API views. ``POST /events`` is the ingest hot path: it reads the body once and
hands it to usage.ingest, skipping DRF's parsers."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import RequestDataTooBig
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.auth import HasIngestScope
from accounts.selectors import customer_get
from common.api.fields import BoundedDateTimeField
from common.api.schema import error_response
from common.decimals import format_decimal
from common.side_by_side import side_by_side
from plans.models import Metric
from usage.api import examples
from usage.api.serializers import (
    EventBatchSerializer,
    EventSerializer,
    IngestResultSerializer,
    RejectedSingleEventSerializer,
)
from usage.ingest import MAX_BODY_BYTES, BodyError, ingest_events, parse_body
from usage.selectors import usage_breakdown, usage_totals


def _error(status: int, field: str, message: str, *, detail: str | None = None) -> Response:
    # The project's error shape (billing_site/api.py): detail plus the field at fault.
    return Response({"detail": detail or message, "errors": {field: [message]}}, status=status)


class EventIngestView(APIView):
    permission_classes = [HasIngestScope]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []

    @extend_schema(
        operation_id="events_ingest",
        # The view reads the body itself (no DRF parsers), so the media type is named here.
        request={"application/json": PolymorphicProxySerializer(
            component_name="EventOrBatch", serializers=[EventSerializer, EventBatchSerializer],
            resource_type_field_name=None)},
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(RejectedSingleEventSerializer, description=(
                "A single event that was rejected (its fields in `errors` and in "
                "`rejected[0]`), or a body that is not one event nor `{\"events\": [...]}`.")),
            413: error_response(413),
        },
        summary="Send usage events",
        description="One event, or `{\"events\": [...]}` of up to 1,000 (body up to 1 MB; "
                    "more is a 413). Send one at every billable action of your product, e.g. "
                    "every AI call with its model, tokens and seat. `transaction_id` makes a "
                    "retry safe: the same id for the same customer counts once. In a batch, "
                    "each bad event is reported by its index with its fields and the good "
                    "ones are kept (200); a single bad event is a 400. Ingest- or "
                    "admin-scope key.",
        examples=examples.EVENTS_INGEST,
    )
    def post(self, request):
        too_big = f"The body is larger than {MAX_BODY_BYTES:,} bytes; send smaller batches."
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:  # refuse before reading a byte of it
            return _error(413, "body", too_big)
        try:
            body = request.body
            events, single = parse_body(body)
        except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE set below our limit
            return _error(413, "body", too_big)
        except BodyError as exc:
            detail = "Invalid input." if exc.status == 400 else exc.message
            return _error(exc.status, exc.field, exc.message, detail=detail)
        result = ingest_events(events=events, now=timezone.now())
        if single and result.rejected:
            return _rejected_single(result.as_dict())
        return Response(result.as_dict())


def _rejected_single(answer: dict) -> Response:
    # A batch with rejections is a 200 (its good events were kept); a lone event that was
    # rejected is a plain bad request, in the batch's shape plus the project's error keys.
    errors = answer["rejected"][0]["errors"]
    reasons = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
    return Response({"detail": f"The event was rejected: {reasons}", "errors": errors,
                     **answer}, status=400)


# --------------------------------------------------------------- GET /customers/{id}/usage

MAX_USAGE_RANGE_DAYS = 400


class UsageQuerySerializer(serializers.Serializer):
    start = BoundedDateTimeField(
        help_text="ISO 8601, inclusive; without an offset it is UTC. Years 1970–2200.")
    end = BoundedDateTimeField(
        help_text="ISO 8601, exclusive; at most 400 days after start. Years 1970–2200.")

    def validate(self, attrs):
        start, end = attrs["start"], attrs["end"]
        if end <= start:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        if end - start > dt.timedelta(days=MAX_USAGE_RANGE_DAYS):
            raise serializers.ValidationError(
                {"end": [f"The range is at most {MAX_USAGE_RANGE_DAYS} days; ask for less."]}
            )
        return attrs


class MetricTotalSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    aggregation = serializers.CharField()
    value = serializers.CharField(help_text="Decimal string.")


class ModelCostSerializer(serializers.Serializer):
    model = serializers.CharField()
    calls = serializers.IntegerField()
    input_tokens = serializers.CharField()
    output_tokens = serializers.CharField()
    cost = serializers.CharField(help_text="USD, decimal string.")
    unpriced = serializers.IntegerField(help_text="Calls naming a model with no known price.")


class SeatCostSerializer(serializers.Serializer):
    seat = serializers.CharField()
    calls = serializers.IntegerField()
    total_tokens = serializers.CharField()
    cost = serializers.CharField(help_text="USD, decimal string.")


class ProviderCostSerializer(serializers.Serializer):
    total = serializers.CharField(help_text="USD, decimal string.")
    by_model = ModelCostSerializer(many=True)
    by_seat = SeatCostSerializer(many=True)


class CustomerUsageSerializer(serializers.Serializer):
    customer = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    metrics = MetricTotalSerializer(many=True)
    provider_cost = ProviderCostSerializer()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class CustomerUsageView(APIView):
    @extend_schema(
        operation_id="customer_usage",
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("end", OpenApiTypes.DATETIME, required=True),
        ],
        responses={200: CustomerUsageSerializer},
        summary="Get a customer's usage",
        description="Every metric's exact total over [start, end) (at most 400 days) and "
                    "the provider cost the vendor paid for the customer's AI calls: total, "
                    "by model and by seat. Admin-scope key.",
        examples=examples.CUSTOMER_USAGE,
    )
    def get(self, request, external_id: str):
        customer = customer_get(external_id=external_id)
        if customer is None:
            raise NotFound(f"No customer has external_id {external_id!r}.")
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        metrics = list(Metric.objects.all())
        totals, cost = side_by_side(
            lambda: usage_totals(customer=customer, start=start, end=end, metrics=metrics),
            lambda: usage_breakdown(customer=customer, start=start, end=end),
        )
        return Response({
            "customer": customer.external_id,
            "start": _iso(start),
            "end": _iso(end),
            "metrics": [
                {"code": m.code, "name": m.name, "aggregation": m.aggregation,
                 "value": format_decimal(totals[m.code])}
                for m in metrics
            ],
            "provider_cost": {
                "total": format_decimal(cost.total),
                "by_model": [
                    {"model": m.model, "calls": m.calls,
                     "input_tokens": format_decimal(m.input_tokens),
                     "output_tokens": format_decimal(m.output_tokens),
                     "cost": format_decimal(m.cost), "unpriced": m.unpriced}
                    for m in cost.by_model
                ],
                "by_seat": [
                    {"seat": s.seat, "calls": s.calls, "total_tokens": format_decimal(s.total_tokens),
                     "cost": format_decimal(s.cost)}
                    for s in cost.by_seat
                ],
            },
        })
