"""Invoices, the upcoming invoice and billing runs over HTTP. Thin: parse, call one
service or selector, render. Every route needs an admin-scope key."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from kombu.exceptions import OperationalError
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.lookups import get_customer_or_404, query_customer
from common.api.errors import conflict
from common.api.fields import parse_query_datetime, query_text
from common.api.schema import error_response
from common.api.serializers import validated_data
from invoices.api import examples
from invoices.api.serializers import (
    BillingRunRequestSerializer,
    BillingRunSerializer,
    InvoiceSerializer,
    MarkPaidRequestSerializer,
    UpcomingInvoiceSerializer,
)
from invoices.documents import upcoming_document
from invoices.models import Invoice
from invoices.portal.pdf import invoice_pdf_response
from invoices.selectors import billing_run_get, billing_run_list, invoice_get, invoice_list
from invoices.selectors.preview import upcoming_invoice
from invoices.services import (
    InvoiceStateError,
    invoice_finalize,
    invoice_mark_paid_out_of_band,
    invoice_void,
)
from invoices.services.run_queue import billing_run_fail, billing_run_request
from invoices.stripe.tasks import queue_invoice_paid, queue_invoice_sync, queue_invoice_void
from invoices.tasks import run_billing

CONFLICT = {409: error_response(409, "The invoice's status forbids it: `errors.status` "
                                     "says why.")}


def query_time(request: Request, name: str) -> dt.datetime | None:
    return parse_query_datetime(name, request.query_params.get(name), require_offset=True)


def get_invoice_or_404(invoice_id: str) -> Invoice:
    invoice = invoice_get(invoice_id=invoice_id)
    if invoice is None:
        raise NotFound(f"No invoice with id {invoice_id!r}.")
    return invoice


@extend_schema(
    summary="List invoices",
    description="Every invoice, newest period first, optionally of one `customer` or in one "
                "`status` (draft, finalized, paid, void). Each carries its lines with their "
                "arithmetic.",
    parameters=[
        OpenApiParameter("customer", str, description="A customer's external_id."),
        OpenApiParameter("status", str, enum=Invoice.Status.values),
    ],
    responses={200: InvoiceSerializer(many=True)}, examples=examples.INVOICE_LIST,
)
class InvoiceListView(generics.ListAPIView):
    serializer_class = InvoiceSerializer

    def get_queryset(self):
        state = query_text(self.request, "status")
        if state is not None and state not in Invoice.Status.values:
            raise serializers.ValidationError(
                {"status": [f"Use one of {', '.join(Invoice.Status.values)}."]}
            )
        return invoice_list(customer=query_customer(self.request), status=state)


@extend_schema(
    summary="Get an invoice",
    description="One invoice with every line: seats, base fee, usage (value, included, "
                "billable, tiers), overage cap, discount, minimum commitment and late usage. "
                "A draft can still change when it is rated again; a finalized invoice never "
                "changes.",
    responses={200: InvoiceSerializer}, examples=examples.INVOICE_GET,
)
class InvoiceDetailView(APIView):
    def get(self, request: Request, invoice_id: str) -> Response:
        return Response(InvoiceSerializer(get_invoice_or_404(invoice_id)).data)


class _ErrorsInJson(BaseContentNegotiation):
    """The PDF is returned as a plain response; anything DRF renders is an error, in JSON
    whatever the client accepts (``Accept: application/pdf`` is not a reason for a 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@extend_schema(
    summary="Download an invoice as PDF",
    description="The invoice as a PDF file (`invoice-USD-000001.pdf`): the issuer, the "
                "customer, the period, every line with its arithmetic in words, and the "
                "total; the same sheet as the customer's invoice page. A draft is marked "
                "DRAFT and a void invoice VOID on every page. The bytes are the same each "
                "time for an invoice that has not changed.",
    responses={(200, "application/pdf"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The PDF, as an attachment.")},
)
class InvoicePdfView(APIView):
    content_negotiation_class = _ErrorsInJson

    def get(self, request: Request, invoice_id: str):
        return invoice_pdf_response(get_invoice_or_404(invoice_id))


class _InvoiceActionView(APIView):
    def act(self, invoice: Invoice) -> Invoice:
        raise NotImplementedError

    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = get_invoice_or_404(invoice_id)
        try:
            self.act(invoice)
        except InvoiceStateError as error:
            return conflict("status", error.message_dict["status"][0])
        return Response(InvoiceSerializer(get_invoice_or_404(invoice_id)).data)


@extend_schema(
    summary="Finalize a draft invoice",
    description="Numbers the draft in its currency's sequence and freezes it; it is then "
                "synced to Stripe. Only a draft can be finalized (else 409).",
    request=None, responses={200: InvoiceSerializer, **CONFLICT},
    examples=examples.INVOICE_FINALIZE,
)
class InvoiceFinalizeView(_InvoiceActionView):
    def act(self, invoice: Invoice) -> Invoice:
        invoice = invoice_finalize(invoice=invoice, now=timezone.now())
        queue_invoice_sync(invoice)
        return invoice


@extend_schema(
    summary="Void an invoice",
    description="Voids a draft (it will not be billed) or a finalized, unpaid invoice (it "
                "keeps its number and lines; Stripe voids its copy). A paid or void invoice "
                "answers 409.",
    request=None, responses={200: InvoiceSerializer, **CONFLICT},
    examples=examples.INVOICE_VOID,
)
class InvoiceVoidView(_InvoiceActionView):
    def act(self, invoice: Invoice) -> Invoice:
        invoice = invoice_void(invoice=invoice, now=timezone.now())
        queue_invoice_void(invoice)
        return invoice


@extend_schema(
    summary="Record a payment made outside Stripe",
    description="Marks a finalized invoice paid at `paid_at` (default now), for money that "
                "arrived another way (a bank transfer, a cheque). Its Stripe copy is then "
                "marked paid out of band, so Stripe stops collecting it. A paid invoice "
                "answers unchanged; a draft or void one answers 409.",
    request=MarkPaidRequestSerializer, responses={200: InvoiceSerializer, **CONFLICT},
    examples=examples.INVOICE_MARK_PAID,
)
class InvoiceMarkPaidView(APIView):
    def post(self, request: Request, invoice_id: str) -> Response:
        invoice = get_invoice_or_404(invoice_id)
        data = validated_data(MarkPaidRequestSerializer, request.data)
        now = timezone.now()
        try:
            invoice = invoice_mark_paid_out_of_band(
                invoice=invoice, paid_at=data.get("paid_at", now), now=now)
        except InvoiceStateError as error:
            return conflict("status", error.message_dict["status"][0])
        queue_invoice_paid(invoice)
        return Response(InvoiceSerializer(get_invoice_or_404(invoice_id)).data)


@extend_schema(
    summary="Preview the upcoming invoice",
    description="The invoice that the period containing `at` (default now) would get if it "
                "were rated now, with every line, from the same engine as billing runs. "
                "Nothing is stored.",
    parameters=[OpenApiParameter("at", dt.datetime, description="Default: now.")],
    responses={200: UpcomingInvoiceSerializer,
               404: error_response(404, "Unknown customer, or no contract in force at `at`.")},
    examples=examples.UPCOMING,
)
class UpcomingInvoiceView(APIView):
    def get(self, request: Request, external_id: str) -> Response:
        customer = get_customer_or_404(external_id)
        at = query_time(request, "at") or timezone.now()
        upcoming = upcoming_invoice(customer=customer, at=at)
        if upcoming is None:
            raise NotFound(f"{customer.external_id} has no contract in force at "
                           f"{at.strftime('%Y-%m-%dT%H:%M:%SZ')}.")
        return Response(UpcomingInvoiceSerializer(upcoming_document(upcoming, at=at)).data)


class BillingRunListView(generics.ListAPIView):
    serializer_class = BillingRunSerializer

    def get_queryset(self):
        return billing_run_list()

    @extend_schema(
        summary="List billing runs", description="Every billing run, newest first, with "
                                                 "its progress and per-customer failures.",
        responses={200: BillingRunSerializer(many=True)}, examples=examples.RUN_LIST,
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Start a billing run",
        description="Queues a run that drafts an invoice for every contract period that "
                    "ended at least the grace time before `as_of` (default now) and has none "
                    "yet. It answers 202 at once with the run; follow its progress at "
                    "`GET /api/v1/billing-runs/{id}` (the `Location` header). Idempotent: "
                    "running it again, or twice at once, makes one invoice per period. "
                    "`as_of` may not be in the future nor before the earliest contract.",
        request=BillingRunRequestSerializer,
        parameters=[OpenApiParameter(
            "Location", str, location=OpenApiParameter.HEADER, response=[202],
            description="Where to follow the run's progress.")],
        responses={202: BillingRunSerializer, 503: error_response(
            503, "The task queue is unavailable: the run is recorded as failed; try again.")},
        examples=examples.RUN_CREATE,
    )
    def post(self, request: Request) -> Response:
        # Queues the run on the worker: thousands of periods never run inside a request.
        now = timezone.now()
        as_of = validated_data(BillingRunRequestSerializer, request.data).get("as_of") or now
        run = billing_run_request(as_of=as_of, now=now)
        try:
            run_billing.delay(run_id=str(run.pk))
        except OperationalError as error:  # the broker is down: say so, leave no live-looking run
            billing_run_fail(run_id=run.pk, error=f"Could not queue the run: {error}",
                             now=timezone.now())
            return Response({"detail": "The billing run could not be queued (the task queue "
                                       "is unavailable); try again later.", "run": str(run.pk)},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(BillingRunSerializer(billing_run_get(run_id=run.pk)).data,
                        status=status.HTTP_202_ACCEPTED,
                        headers={"Location": f"/api/v1/billing-runs/{run.pk}"})


@extend_schema(
    summary="Follow a billing run",
    description="A run's status (queued, running, done, failed) and progress: periods due, "
                "invoices created, drafts re-rated, chunks done of chunks total, and the "
                "customers that failed with why.",
    responses={200: BillingRunSerializer}, examples=examples.RUN_GET,
)
class BillingRunDetailView(APIView):
    def get(self, request: Request, run_id: str) -> Response:
        run = billing_run_get(run_id=run_id)
        if run is None:
            raise NotFound(f"No billing run with id {run_id!r}.")
        return Response(BillingRunSerializer(run).data)
