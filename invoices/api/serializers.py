"""Invoice and billing-run shapes (SPEC 7).

An invoice's body is ``invoices.documents``' dataclasses: the serializers below are built
from their fields (names, types, nullability and what each string holds), so the schema
cannot describe a key the body lacks or miss one it has. Times and dates use the shared
bounded fields, as every input and output of the API does."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from rest_framework import serializers

from common.api.fields import BoundedDateField, BoundedDateTimeField
from common.api.serializers import StrictSerializer
from invoices.documents import InvoiceDoc, LineDoc, TierDoc, UpcomingInvoiceDoc, invoice_document
from invoices.models import BillingRun

HELP = {
    "money": "Decimal string with the currency's minor units, e.g. \"172.90\".",
    "number": "Decimal string without padding, e.g. \"5200\" or \"4.322581\".",
}
FORMATS = {"date": BoundedDateField, "date-time": BoundedDateTimeField,
           "uuid": serializers.UUIDField}
SCALARS = {bool: serializers.BooleanField, int: serializers.IntegerField,
           str: serializers.CharField}


# Output only: the body is the document's ``as_dict()``; the fields describe it. (No
# docstrings on these classes: the schema would show them as the components' descriptions.)
class DocumentSerializer(serializers.Serializer):

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return instance.as_dict()


def _field(spec: dataclasses.Field, hint: Any, nested: dict[type, type]) -> serializers.Field:
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kind = next(option for option in options if option is not type(None))
    kwargs: dict[str, Any] = {"allow_null": True} if type(None) in options else {}
    meta = spec.metadata
    if "help_text" in meta or meta.get("format") in HELP:
        kwargs["help_text"] = meta.get("help_text", HELP.get(meta.get("format")))
    if typing.get_origin(kind) is tuple:  # tuple[SomeDoc, ...]: a nested list
        return nested[typing.get_args(kind)[0]](many=True)
    if "choices" in meta:
        return serializers.ChoiceField(choices=meta["choices"], **kwargs)
    return FORMATS.get(meta.get("format"), SCALARS[kind])(**kwargs)


def document_serializer(name: str, document: type, nested: dict[type, type] | None = None,
                        base: type = DocumentSerializer) -> type:
    """A serializer class named ``name`` whose fields are ``document``'s API fields."""
    hints = typing.get_type_hints(document)
    declared = {
        spec.name: _field(spec, hints[spec.name], nested or {})
        for spec in dataclasses.fields(document) if spec.metadata.get("api", True)
    }
    return type(name, (base,), {**declared, "__module__": __name__})


TierSerializer = document_serializer("TierSerializer", TierDoc)
InvoiceLineSerializer = document_serializer("InvoiceLineSerializer", LineDoc,
                                            {TierDoc: TierSerializer})


class _InvoiceBase(DocumentSerializer):
    def to_representation(self, instance: Any) -> dict[str, Any]:
        document = instance if isinstance(instance, InvoiceDoc) else invoice_document(instance)
        return document.as_dict()


InvoiceSerializer = document_serializer("InvoiceSerializer", InvoiceDoc,
                                        {LineDoc: InvoiceLineSerializer}, _InvoiceBase)
UpcomingInvoiceSerializer = document_serializer("UpcomingInvoiceSerializer", UpcomingInvoiceDoc,
                                                {LineDoc: InvoiceLineSerializer}, _InvoiceBase)


class BillingRunRequestSerializer(StrictSerializer):
    as_of = BoundedDateTimeField(
        required=False,
        help_text="Default: now. Not in the future (beyond a few minutes of clock skew) "
                  "nor before the earliest contract start.",
    )


class MarkPaidRequestSerializer(StrictSerializer):
    paid_at = BoundedDateTimeField(
        required=False,
        help_text="When the money arrived. Default: now. Not in the future, not before "
                  "the invoice was finalized.",
    )


class BillingRunFailureSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text="The customer's external_id.")
    error = serializers.CharField()


class BillingRunSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    as_of = BoundedDateTimeField(read_only=True)
    status = serializers.ChoiceField(choices=BillingRun.Status.choices, read_only=True)
    error = serializers.CharField(read_only=True,
                                  help_text="Why the run as a whole failed; empty otherwise.")
    periods_due = serializers.IntegerField(read_only=True)
    invoices_created = serializers.IntegerField(read_only=True)
    drafts_rerated = serializers.IntegerField(read_only=True)
    customers_total = serializers.IntegerField(read_only=True)
    chunks_total = serializers.IntegerField(read_only=True)
    chunks_done = serializers.IntegerField(read_only=True)
    failures = BillingRunFailureSerializer(many=True, read_only=True)
    requested_at = BoundedDateTimeField(read_only=True)
    started_at = BoundedDateTimeField(read_only=True, allow_null=True)
    finished_at = BoundedDateTimeField(read_only=True, allow_null=True)
