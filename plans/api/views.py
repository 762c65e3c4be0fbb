"""Metrics, plans, plan versions and contracts over HTTP. Thin: parse, call one service, render.

A published plan version refuses every change with 409 Conflict (the request is
well-formed; the version's state forbids it), shaped like every other error:
``{"detail": ..., "errors": {"status": [...]}}``.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.lookups import query_customer
from common.api.errors import conflict
from common.api.fields import query_text
from common.api.schema import error_response
from common.api.serializers import has_nul, validated_data
from common.bounds import MAX_BIGINT
from plans.api import examples
from plans.api.serializers import (
    MAX_POSITIVE_INT,
    ContractCreateSerializer,
    ContractMigrationCreateSerializer,
    ContractMigrationSerializer,
    ContractSerializer,
    ContractUpdateSerializer,
    MetricCreateSerializer,
    MetricSerializer,
    MetricUpdateSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    PlanVersionSerializer,
    PlanVersionWriteSerializer,
)
from plans.models import (
    Contract,
    ContractMigration,
    Metric,
    Plan,
    PlanVersion,
    PublishedVersionError,
)
from plans.selectors import (
    contract_get,
    contract_list,
    contract_migration_get,
    contract_version_at,
    metric_get,
    metric_list,
    plan_get,
    plan_list,
    plan_version_get,
    plan_versions_with_charges,
)
from plans.services import (
    MetricPricedError,
    MigrationInEffectError,
    contract_cancel_migration,
    contract_create,
    contract_schedule_migration,
    contract_update,
    metric_create,
    metric_update,
    plan_create,
    plan_version_create,
    plan_version_publish,
    plan_version_update,
)

CONFLICT = {409: error_response(409, "The version is published and immutable: "
                                     "`errors.status` says so.")}


def published_conflict(version: PlanVersion) -> Response:
    return conflict("status", str(PublishedVersionError(version).messages[0]))


# Serializers that say what is current or pending need the (UTC) date. A comment, not a
# docstring: drf-spectacular would show a docstring as every operation's description.
class TodayContextMixin:
    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "today": timezone.now().date()}


# --- metrics ---------------------------------------------------------------------------


class MetricListView(generics.ListAPIView):
    serializer_class = MetricSerializer

    def get_queryset(self):
        return metric_list()

    @extend_schema(
        operation_id="metrics_list", summary="List metrics",
        description="Every metric, ordered by `code`. A metric turns usage events into a "
                    "number per period: the `aggregation` (sum, count, max, unique_count) of "
                    "`field` over the events of `event_type` that match `filters`.",
        responses={200: MetricSerializer(many=True)}, examples=examples.METRIC_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="metrics_create", summary="Create a metric",
        description="`count` takes no `field`; `sum`, `max` and `unique_count` name the event "
                    "property they aggregate (sum and max need non-negative numbers). "
                    "`filters` maps a property to the value an event must have to count. "
                    "`code` is how plan charges name the metric and never changes.",
        request=MetricCreateSerializer, responses={201: MetricSerializer},
        examples=examples.METRIC_CREATE,
    )
    def post(self, request: Request) -> Response:
        data = validated_data(MetricCreateSerializer, request.data)
        data["field"] = data.get("field") or ""
        return Response(MetricSerializer(metric_create(**data)).data, status=status.HTTP_201_CREATED)


def get_metric_or_404(code: str) -> Metric:
    metric = None if has_nul(code) else metric_get(code=code)
    if metric is None:
        raise NotFound(f"No metric with code {code!r}.")
    return metric


class MetricDetailView(generics.GenericAPIView):
    serializer_class = MetricSerializer

    @extend_schema(operation_id="metrics_retrieve", summary="Get a metric",
                   description="The metric whose `code` is in the path.",
                   responses={200: MetricSerializer}, examples=examples.METRIC_GET)
    def get(self, request: Request, code: str) -> Response:
        return Response(MetricSerializer(get_metric_or_404(code)).data)

    @extend_schema(
        operation_id="metrics_update", summary="Change a metric",
        description="Send only the fields to change. `name` and `description` can always "
                    "change. The rule (`event_type`, `aggregation`, `field`, `filters`) can "
                    "change only while no published plan version prices the metric: what a "
                    "published price counts never changes under it, so that answers 409 "
                    "naming each field (create a new metric instead). `code` never changes.",
        request=MetricUpdateSerializer,
        responses={200: MetricSerializer, 409: error_response(
            409, "A published plan version prices the metric: `errors` names each rule "
                 "field that would change.")},
        examples=examples.METRIC_UPDATE,
    )
    def patch(self, request: Request, code: str) -> Response:
        metric = get_metric_or_404(code)
        changes = validated_data(MetricUpdateSerializer, request.data, partial=True)
        try:
            metric = metric_update(metric=metric, **changes)
        except MetricPricedError as error:
            fields = error.message_dict
            return Response({"detail": next(iter(fields.values()))[0], "errors": fields},
                            status=status.HTTP_409_CONFLICT)
        return Response(MetricSerializer(metric).data)


# --- plans and versions ----------------------------------------------------------------


def get_plan_or_404(code: str) -> Plan:
    plan = None if has_nul(code) else plan_get(code=code)
    if plan is None:
        raise NotFound(f"No plan with code {code!r}.")
    return plan


def get_version_or_404(code: str, number: int) -> PlanVersion:
    plan = get_plan_or_404(code)
    version = plan_version_get(plan=plan, version=number) if number <= MAX_POSITIVE_INT else None
    if version is None:
        raise NotFound(f"Plan {code!r} has no version {number}.")
    return version


def version_response(version: PlanVersion, *, code: int = status.HTTP_200_OK) -> Response:
    # Re-read with charges and tiers prefetched: the service's instance has none loaded.
    fresh = plan_version_get(plan=version.plan, version=version.version)
    return Response(PlanVersionSerializer(fresh).data, status=code)


class PlanListView(TodayContextMixin, generics.ListAPIView):
    serializer_class = PlanSerializer

    def get_queryset(self):
        return plan_list()

    @extend_schema(
        operation_id="plans_list", summary="List plans",
        description="Every plan with a summary of its versions. `current_version` is the "
                    "latest published version in effect today (UTC): new contracts get it "
                    "unless they name another.",
        responses={200: PlanSerializer(many=True)}, examples=examples.PLAN_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="plans_create", summary="Create a plan",
        description="A plan is a named offer; its prices live in versions (POST "
                    "/plans/{code}/versions, then publish one).",
        request=PlanCreateSerializer, responses={201: PlanSerializer},
        examples=examples.PLAN_CREATE,
    )
    def post(self, request: Request) -> Response:
        plan = plan_create(**validated_data(PlanCreateSerializer, request.data))
        data = PlanSerializer(get_plan_or_404(plan.code), context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


class PlanDetailView(TodayContextMixin, generics.GenericAPIView):
    serializer_class = PlanSerializer

    @extend_schema(operation_id="plans_retrieve", summary="Get a plan",
                   description="The plan whose `code` is in the path, with its versions and "
                               "the one current today.",
                   responses={200: PlanSerializer}, examples=examples.PLAN_GET)
    def get(self, request: Request, code: str) -> Response:
        return Response(self.get_serializer(get_plan_or_404(code)).data)


class PlanVersionListView(generics.ListAPIView):
    serializer_class = PlanVersionSerializer

    def get_queryset(self):
        return plan_versions_with_charges(plan=get_plan_or_404(self.kwargs["code"]))

    @extend_schema(
        operation_id="plans_versions_list", summary="List a plan's versions",
        description="Every version of the plan, drafts and published, with charges and tiers.",
        responses={200: PlanVersionSerializer(many=True)}, examples=examples.VERSION_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="plans_versions_create", summary="Create a draft version",
        description="A price book: seat price, base fee and usage charges (`per_unit`, "
                    "`package`, `graduated` or `volume`, each with its allowance). It is "
                    "created as a draft numbered after the plan's last version; publish it "
                    "to make it usable by contracts.",
        request=PlanVersionWriteSerializer, responses={201: PlanVersionSerializer},
        examples=examples.VERSION_CREATE,
    )
    def post(self, request: Request, code: str) -> Response:
        plan = get_plan_or_404(code)
        version = plan_version_create(
            plan=plan, **validated_data(PlanVersionWriteSerializer, request.data)
        )
        return version_response(version, code=status.HTTP_201_CREATED)


class PlanVersionDetailView(generics.GenericAPIView):
    serializer_class = PlanVersionSerializer

    @extend_schema(operation_id="plans_versions_retrieve", summary="Get a version",
                   description="One version of the plan with its charges and tiers.",
                   responses={200: PlanVersionSerializer}, examples=examples.VERSION_GET)
    def get(self, request: Request, code: str, version: int) -> Response:
        return Response(PlanVersionSerializer(get_version_or_404(code, version)).data)

    @extend_schema(
        operation_id="plans_versions_update", summary="Change a draft version",
        request=PlanVersionWriteSerializer,
        description="Change a draft version; `charges`, when sent, replaces all of them. "
                    "A published version answers 409: publish a new version instead.",
        responses={200: PlanVersionSerializer, **CONFLICT},
        examples=examples.VERSION_UPDATE,
    )
    def patch(self, request: Request, code: str, version: int) -> Response:
        plan_version = get_version_or_404(code, version)
        if plan_version.is_published:
            # Whatever the body says, the answer is the same: nothing about it may change.
            return published_conflict(plan_version)
        changes = validated_data(PlanVersionWriteSerializer, request.data, partial=True)
        try:
            plan_version = plan_version_update(version=plan_version, **changes)
        except PublishedVersionError:  # published between our read and the service's lock
            return published_conflict(plan_version)
        return version_response(plan_version)


class PlanVersionPublishView(generics.GenericAPIView):
    serializer_class = PlanVersionSerializer

    @extend_schema(
        operation_id="plans_versions_publish", summary="Publish a version", request=None,
        description="Checks the charges once more and freezes the version: from now on no "
                    "price in it changes, and contracts may use it from its "
                    "`effective_from`. A version with no seat price, base fee or charge is "
                    "refused (400); an already published one answers 409.",
        responses={200: PlanVersionSerializer, 400: error_response(400), **CONFLICT},
        examples=examples.VERSION_PUBLISH,
    )
    def post(self, request: Request, code: str, version: int) -> Response:
        plan_version = get_version_or_404(code, version)
        try:
            plan_version = plan_version_publish(version=plan_version, now=timezone.now())
        except PublishedVersionError:
            return published_conflict(plan_version)
        return version_response(plan_version)


# --- contracts -------------------------------------------------------------------------


def get_contract_or_404(contract_id: int) -> Contract:
    contract = contract_get(contract_id=contract_id) if contract_id <= MAX_BIGINT else None
    if contract is None:
        raise NotFound(f"No contract {contract_id}.")
    return contract


class ContractListView(TodayContextMixin, generics.ListAPIView):
    serializer_class = ContractSerializer

    def get_queryset(self):
        customer = query_customer(self.request)
        status_filter = query_text(self.request, "status")
        if status_filter is not None and status_filter not in Contract.Status.values:
            raise serializers.ValidationError(
                {"status": [f"status must be one of {', '.join(Contract.Status.values)}."]}
            )
        return contract_list(customer=customer, status=status_filter)

    @extend_schema(
        operation_id="contracts_list", summary="List contracts",
        description="Every contract, optionally of one `customer` or in one `status`.",
        examples=examples.CONTRACT_LIST,
        parameters=[
            OpenApiParameter("customer", str, description="A customer's external_id."),
            OpenApiParameter("status", str, enum=Contract.Status.values),
        ],
        responses={200: ContractSerializer(many=True)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="contracts_create", summary="Create a contract",
        description="Puts a customer on a published plan version (default: the plan's "
                    "current one) from `start_date`; periods anchor on that day. `end_date`, "
                    "when given, is the term's last day and must be the day before a period "
                    "start. Overrides (`seat_price`, `base_fee`, `included_per_seat`, "
                    "`discount_percent`), `overage_cap` and `minimum_commitment` are null "
                    "for the version's terms. A customer has one active contract at a time.",
        request=ContractCreateSerializer, responses={201: ContractSerializer},
        examples=examples.CONTRACT_CREATE,
    )
    def post(self, request: Request) -> Response:
        context = self.get_serializer_context()
        data = validated_data(ContractCreateSerializer, request.data, context=context)
        contract = contract_create(**data)
        return Response(ContractSerializer(get_contract_or_404(contract.pk), context=context).data,
                        status=status.HTTP_201_CREATED)


class ContractDetailView(TodayContextMixin, generics.GenericAPIView):
    serializer_class = ContractSerializer

    @extend_schema(operation_id="contracts_retrieve", summary="Get a contract",
                   description="One contract with its scheduled migrations.",
                   responses={200: ContractSerializer}, examples=examples.CONTRACT_GET)
    def get(self, request: Request, contract_id: int) -> Response:
        return Response(self.get_serializer(get_contract_or_404(contract_id)).data)

    @extend_schema(
        operation_id="contracts_update", summary="Change a contract",
        description="Send only the fields to change (term, renewal, committed seats, "
                    "negotiated prices). The plan version cannot change here: schedule a "
                    "migration.",
        request=ContractUpdateSerializer, responses={200: ContractSerializer},
        examples=examples.CONTRACT_UPDATE,
    )
    def patch(self, request: Request, contract_id: int) -> Response:
        contract = get_contract_or_404(contract_id)
        changes = validated_data(ContractUpdateSerializer, request.data, partial=True)
        contract_update(contract=contract, **changes)
        return Response(self.get_serializer(get_contract_or_404(contract_id)).data)


class ContractMigrationListView(TodayContextMixin, generics.ListAPIView):
    serializer_class = ContractMigrationSerializer

    def get_queryset(self):
        return get_contract_or_404(self.kwargs["contract_id"]).migrations.all()

    @extend_schema(
        operation_id="contracts_migrations_list", summary="List a contract's migrations",
        description="Every migration scheduled on the contract; `pending` says whether it "
                    "is still to take effect.",
        responses={200: ContractMigrationSerializer(many=True)},
        examples=examples.MIGRATION_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="contracts_migrations_create", summary="Schedule a migration",
        request=ContractMigrationCreateSerializer,
        description="Schedule a move to another version from a later period start, at least "
                    "`notice_days` (default 30) after today. `plan_version` is a version number "
                    "of `plan` (default: the plan the contract is on today). Each period is "
                    "rated on the version in force at its start.",
        responses={201: ContractMigrationSerializer},
        examples=examples.MIGRATION_CREATE,
    )
    def post(self, request: Request, contract_id: int) -> Response:
        contract = get_contract_or_404(contract_id)
        context = self.get_serializer_context()
        today = context["today"]
        current_plan = contract_version_at(contract=contract, day=today).plan
        data = validated_data(ContractMigrationCreateSerializer, request.data,
                              context={**context, "current_plan": current_plan})
        migration = contract_schedule_migration(contract=contract, today=today, **data)
        return Response(ContractMigrationSerializer(migration, context=context).data,
                        status=status.HTTP_201_CREATED)


def get_migration_or_404(contract_id: int, migration_id: int) -> ContractMigration:
    migration = (contract_migration_get(contract_id=contract_id, migration_id=migration_id)
                 if max(contract_id, migration_id) <= MAX_BIGINT else None)
    if migration is None:
        raise NotFound(f"Contract {contract_id} has no migration {migration_id}.")
    return migration


class ContractMigrationDetailView(TodayContextMixin, generics.GenericAPIView):
    serializer_class = ContractMigrationSerializer

    @extend_schema(operation_id="contracts_migrations_retrieve", summary="Get a migration",
                   description="One migration of the contract: its target version, effective "
                               "date and whether it is still `pending`.",
                   responses={200: ContractMigrationSerializer}, examples=examples.MIGRATION_GET)
    def get(self, request: Request, contract_id: int, migration_id: int) -> Response:
        return Response(self.get_serializer(get_migration_or_404(contract_id, migration_id)).data)


class ContractMigrationCancelView(TodayContextMixin, generics.GenericAPIView):
    serializer_class = ContractMigrationSerializer

    @extend_schema(
        operation_id="contracts_migrations_cancel", summary="Cancel a migration", request=None,
        description="Cancels a migration before its effective date: the contract stays on the "
                    "version it is on, the customer no longer sees the change as upcoming, and "
                    "the `migration.canceled` webhook event is sent. Canceling a canceled "
                    "migration answers it unchanged. Once the effective date has come, its "
                    "periods are billed on the new version and this answers 409: schedule a "
                    "migration back instead.",
        responses={200: ContractMigrationSerializer, 409: error_response(
            409, "The migration has taken effect: `errors.effective_date` says when.")},
        examples=examples.MIGRATION_CANCEL,
    )
    def post(self, request: Request, contract_id: int, migration_id: int) -> Response:
        migration = get_migration_or_404(contract_id, migration_id)
        context = self.get_serializer_context()
        try:
            migration = contract_cancel_migration(migration=migration, today=context["today"])
        except MigrationInEffectError as error:
            return conflict("effective_date", error.message_dict["effective_date"][0])
        return Response(self.get_serializer(migration).data)
