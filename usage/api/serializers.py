"""Request/response shapes of the usage API, for the OpenAPI schema.

``POST /events`` does not validate through these (a serializer per event is too slow for
the ingest path; see usage/ingest.py); they document the contract.
"""

from __future__ import annotations

from rest_framework import serializers


class EventSerializer(serializers.Serializer):
    transaction_id = serializers.CharField(
        max_length=255, help_text="Idempotency key, unique per customer.")
    customer = serializers.CharField(help_text="The customer's external_id.")
    event_type = serializers.CharField(max_length=128, help_text="e.g. ai.call, task.completed")
    timestamp = serializers.DateTimeField(
        help_text="ISO 8601; without an offset it is UTC. At most "
                  "USAGE_FUTURE_TOLERANCE_SECONDS ahead, USAGE_BACKFILL_DAYS back.")
    properties = serializers.DictField(
        required=False,
        help_text="Free-form. model, provider, input_tokens, output_tokens and seat are read "
                  "for provider cost; properties that a sum/max metric aggregates must be "
                  "non-negative numbers.")


class EventBatchSerializer(serializers.Serializer):
    events = EventSerializer(many=True, help_text="At most 1,000 events, body at most 1 MB.")


class RejectedEventSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the event in the request.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class IngestResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(
        help_text="Events whose transaction_id was already stored (or repeated in the batch).")
    rejected = RejectedEventSerializer(many=True)


class RejectedSingleEventSerializer(IngestResultSerializer):
    """A single event (not a batch) that was rejected, or a body that is not JSON of the
    right shape (then only ``detail`` and ``errors``)."""

    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    accepted = serializers.IntegerField(required=False)
    duplicates = serializers.IntegerField(required=False)
    rejected = RejectedEventSerializer(many=True, required=False)
