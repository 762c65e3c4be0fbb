"""The Stripe webhook endpoint: ``POST /stripe/webhook/``.

No session, CSRF token or API key: Stripe authenticates each delivery with the
``Stripe-Signature`` header, which the service verifies before storing anything. The view
answers as soon as the event is stored; processing happens in a task.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from invoices.stripe.tasks import queue_stripe_event
from invoices.stripe.webhooks import (
    WebhookNotConfigured,
    WebhookRejected,
    stripe_webhook_receive,
)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event, created = stripe_webhook_receive(
            payload=request.body,
            signature=request.headers.get("Stripe-Signature"),
            now=timezone.now(),
        )
    except WebhookNotConfigured as exc:
        # 503, not 400: Stripe keeps retrying for days, so no event is lost while ops
        # sets the secret.
        return JsonResponse({"detail": str(exc)}, status=503)
    except WebhookRejected as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    if created:
        queue_stripe_event(event)
    return JsonResponse({"received": True, "id": event.stripe_id, "duplicate": not created})
