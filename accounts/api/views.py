"""Customers and seats over HTTP. Thin: parse, call one service, render.

Every view needs an admin-scope key (the project default permission). Reads go
through ``accounts.selectors``; writes through ``accounts.services``, which are
atomic, so a refused request leaves nothing behind.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import examples
from accounts.api.lookups import get_customer_or_404
from accounts.api.serializers import (
    CustomerCreateSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    SeatSerializer,
    SeatWriteSerializer,
)
from accounts.selectors import customer_list, seat_get, seat_list
from accounts.services import customer_create, customer_update, seat_create, seat_update
from common.api.fields import query_bool, query_text
from common.api.serializers import validated_data
from common.bounds import MAX_BIGINT


class CustomerListView(generics.ListAPIView):
    serializer_class = CustomerSerializer

    def get_queryset(self):
        return customer_list(search=query_text(self.request, "search"),
                             archived=query_bool(self.request, "archived"))

    @extend_schema(
        operation_id="customers_list",
        summary="List customers",
        description="Every customer, ordered by `external_id`, a page at a time (`limit`, "
                    "`offset`). `search` matches part of the external_id, name or email; "
                    "`archived` keeps only archived (true) or only live (false) customers.",
        parameters=[
            OpenApiParameter("search", str, description="Part of the external_id, name or email."),
            OpenApiParameter("archived", bool, description="true: only archived; false: only live."),
        ],
        responses={200: CustomerSerializer(many=True)},
        examples=examples.CUSTOMER_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="customers_create", summary="Create a customer",
        description="`external_id` is your own id for the customer: every path and usage "
                    "event names the customer by it, and it never changes. `currency` (ISO "
                    "4217, default USD) is the currency of its invoices; it is fixed once the "
                    "customer has a contract.",
        request=CustomerCreateSerializer, responses={201: CustomerSerializer},
        examples=examples.CUSTOMER_CREATE,
    )
    def post(self, request: Request) -> Response:
        customer = customer_create(**validated_data(CustomerCreateSerializer, request.data))
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailView(generics.GenericAPIView):
    serializer_class = CustomerSerializer

    @extend_schema(operation_id="customers_retrieve", summary="Get a customer",
                   description="The customer whose `external_id` is in the path.",
                   responses={200: CustomerSerializer}, examples=examples.CUSTOMER_GET)
    def get(self, request: Request, external_id: str) -> Response:
        return Response(CustomerSerializer(get_customer_or_404(external_id)).data)

    @extend_schema(
        operation_id="customers_update", summary="Change a customer",
        description="Send only the fields to change. `external_id` cannot change; "
                    "`currency` only while the customer has no contract.",
        request=CustomerUpdateSerializer, responses={200: CustomerSerializer},
        examples=examples.CUSTOMER_UPDATE,
    )
    def patch(self, request: Request, external_id: str) -> Response:
        customer = get_customer_or_404(external_id)
        changes = validated_data(CustomerUpdateSerializer, request.data, partial=True)
        customer = customer_update(customer=customer, **changes)
        return Response(CustomerSerializer(customer).data)


class SeatListView(generics.ListAPIView):
    serializer_class = SeatSerializer

    def get_queryset(self):
        return seat_list(customer=get_customer_or_404(self.kwargs["external_id"]))

    @extend_schema(
        operation_id="customers_seats_list", summary="List a customer's seats",
        description="Every seat the customer ever had, past ones included: a seat is billed "
                    "for each UTC day on which it was active (between `active_from` and "
                    "`active_until`, null meaning still active).",
        responses={200: SeatSerializer(many=True)}, examples=examples.SEAT_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="customers_seats_create", summary="Add a seat",
        description="A named person at the customer, billed from `active_from` (and until "
                    "`active_until`, when given). The same email cannot hold two seats "
                    "whose active spans overlap.",
        request=SeatWriteSerializer, responses={201: SeatSerializer},
        examples=examples.SEAT_CREATE,
    )
    def post(self, request: Request, external_id: str) -> Response:
        customer = get_customer_or_404(external_id)
        seat = seat_create(customer=customer, **validated_data(SeatWriteSerializer, request.data))
        return Response(SeatSerializer(seat).data, status=status.HTTP_201_CREATED)


class SeatDetailView(generics.GenericAPIView):
    serializer_class = SeatSerializer

    def _seat(self, external_id: str, seat_id: int):
        customer = get_customer_or_404(external_id)
        seat = seat_get(customer=customer, seat_id=seat_id) if seat_id <= MAX_BIGINT else None
        if seat is None:
            raise NotFound(f"Customer {external_id!r} has no seat {seat_id}.")
        return seat

    @extend_schema(operation_id="customers_seats_retrieve", summary="Get a seat",
                   description="One seat of the customer, by its id.",
                   responses={200: SeatSerializer}, examples=examples.SEAT_GET)
    def get(self, request: Request, external_id: str, seat_id: int) -> Response:
        return Response(SeatSerializer(self._seat(external_id, seat_id)).data)

    @extend_schema(
        operation_id="customers_seats_update", summary="Change a seat",
        description="Send only the fields to change; set `active_until` to end the seat. It "
                    "stays billed for every UTC day on which it was active at any moment. A "
                    "seat cannot move to another customer.",
        request=SeatWriteSerializer, responses={200: SeatSerializer},
        examples=examples.SEAT_UPDATE,
    )
    def patch(self, request: Request, external_id: str, seat_id: int) -> Response:
        seat = self._seat(external_id, seat_id)
        changes = validated_data(SeatWriteSerializer, request.data, partial=True)
        return Response(SeatSerializer(seat_update(seat=seat, **changes)).data)
