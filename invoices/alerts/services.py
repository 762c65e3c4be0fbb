"""Writes for usage alerts: a customer's thresholds and recipients, and evaluating every
open period (after each rollup run: ``invoices.alerts.tasks.rollup_and_evaluate``).

Each crossing is recorded before anything is sent, in its own transaction: the unique
constraint ``(customer, key, period_start)`` makes a second run, or a run at the same
moment on another worker, record nothing (on PostgreSQL the second insert waits for the
first to commit, then conflicts). The ``alert.triggered`` webhook is published in that
same transaction; the email is sent once it commits, and its outcome recorded on the row.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.models import Customer
from accounts.outbound.events import ALERT_TRIGGERED
from accounts.outbound.publish import outbound_publish
from common.decimals import format_decimal, format_money
from invoices.alerts import rules
from invoices.alerts.models import AlertCrossing, AlertRecipient, AlertThreshold
from invoices.alerts.rules import Crossing, PeriodStatus, Threshold
from invoices.alerts.status import customers_with_open_period, metric_aggregations, period_statuses

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
MAX_THRESHOLDS = 10  # of each kind
MAX_RECIPIENTS = 20
MAX_PERCENT = Decimal(1000)
MAX_AMOUNT = Decimal("1e15")
# An email not sent right after its crossing committed (a worker killed in between) is
# sent by a later evaluation once it is this old.
EMAIL_RETRY_AFTER = dt.timedelta(minutes=10)


# --- Thresholds and recipients ------------------------------------------------------------


def _amounts(field: str, values: Iterable[Any], *, maximum: Decimal) -> list[Decimal]:
    found: set[Decimal] = set()
    for raw in values:
        try:
            value = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError({field: [f"{raw!r} is not a number."]}) from None
        if not value.is_finite() or value <= 0 or value > maximum:
            raise ValidationError({field: [f"{raw} must be above 0 and at most {maximum:,}."]})
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError({field: [f"{raw}: use at most two decimals."]})
        found.add(value.quantize(Decimal("0.01")))
    if len(found) > MAX_THRESHOLDS:
        raise ValidationError({field: [f"At most {MAX_THRESHOLDS} values."]})
    return sorted(found)


@transaction.atomic
def alert_settings_update(*, customer: Customer, usage_percents: Iterable[Any] = (),
                          spend_amounts: Iterable[Any] = (), projected_amounts: Iterable[Any] = (),
                          recipients: Iterable[str] = ()) -> None:
    """Replace the customer's thresholds and recipients. No usage percentages: the
    defaults (80 % and 100 %) apply; no recipients: the customer's billing email."""
    kinds = {
        AlertThreshold.Kind.USAGE_PERCENT: _amounts("usage_percents", usage_percents,
                                                    maximum=MAX_PERCENT),
        AlertThreshold.Kind.SPEND: _amounts("spend_amounts", spend_amounts, maximum=MAX_AMOUNT),
        AlertThreshold.Kind.PROJECTED_SPEND: _amounts("projected_amounts", projected_amounts,
                                                      maximum=MAX_AMOUNT),
    }
    emails = sorted({email.strip().lower() for email in recipients if email.strip()})
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"recipients": [f"{email} is not an email address."]}) from None
    if len(emails) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": [f"At most {MAX_RECIPIENTS} recipients."]})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    AlertThreshold.objects.filter(customer=customer).delete()
    AlertRecipient.objects.filter(customer=customer).delete()
    AlertThreshold.objects.bulk_create([
        AlertThreshold(customer=customer, kind=kind, value=value)
        for kind, values in kinds.items() for value in values
    ])
    AlertRecipient.objects.bulk_create([AlertRecipient(customer=customer, email=e) for e in emails])


def thresholds_of(customer_ids: Sequence[int]) -> dict[int, tuple[Threshold, ...]]:
    """Each customer's effective thresholds (defaults included), in one query."""
    rows: dict[int, list[Threshold]] = defaultdict(list)
    for customer_id, kind, value in AlertThreshold.objects.filter(
            customer_id__in=list(customer_ids)).values_list("customer_id", "kind", "value"):
        rows[customer_id].append(Threshold(rules.Kind(kind), value))
    return {pk: rules.effective_thresholds(rows.get(pk, ())) for pk in customer_ids}


def recipients_of(customers: Sequence[Customer]) -> dict[int, list[str]]:
    """Each customer's alert recipients (its billing email when it named none), one query."""
    named: dict[int, list[str]] = defaultdict(list)
    for customer_id, email in AlertRecipient.objects.filter(
            customer_id__in=[c.pk for c in customers]).order_by("email").values_list(
            "customer_id", "email"):
        named[customer_id].append(email)
    return {c.pk: named.get(c.pk) or ([c.email] if c.email else []) for c in customers}


# --- Evaluation ---------------------------------------------------------------------------


def alert_payload(row: AlertCrossing) -> dict[str, Any]:
    """The ``alert.triggered`` webhook's ``data`` (docs/webhooks.md)."""
    return {"alert": {
        "id": row.pk, "customer": row.customer.external_id, "customer_name": row.customer.name,
        "kind": row.kind, "key": row.key, "threshold": format_decimal(row.threshold),
        "charge_key": row.charge_key, "metric": row.metric,
        "value": format_decimal(row.value),
        "allowance": format_decimal(row.allowance) if row.allowance is not None else None,
        "currency": row.currency,
        "period_start": row.period_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "period_end": row.period_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "crossed_at": row.crossed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }}


def _record(customer: Customer, status: PeriodStatus, crossing: Crossing,
            recipients: list[str], now: dt.datetime) -> AlertCrossing | None:
    """The crossing's row and webhook, committed together; None when it was recorded
    already (by an earlier run or one running now)."""
    allowance = crossing.allowance
    try:
        with transaction.atomic():
            row = AlertCrossing.objects.create(
                customer=customer, key=crossing.key, kind=crossing.kind,
                period_start=status.period_start, period_end=status.period_end,
                threshold=crossing.threshold, value=crossing.value,
                charge_key=allowance.charge_key if allowance else "",
                metric=allowance.metric if allowance else "",
                description=crossing.describe(status.currency)[:200],
                allowance=allowance.included if allowance else None,
                currency=status.currency, crossed_at=now, recipients=recipients,
            )
            outbound_publish(event_type=ALERT_TRIGGERED, event_id=f"alert.triggered:{row.pk}",
                             payload=alert_payload(row), now=now)
            row_id = row.pk
            transaction.on_commit(lambda: alert_email_send(crossing_id=row_id, now=now))
    except IntegrityError:
        return None
    return row


def alerts_evaluate(*, now: dt.datetime, customer_ids: Sequence[int] | None = None,
                    chunk_size: int = CHUNK_SIZE) -> list[AlertCrossing]:
    """Record (and send) every threshold crossed in the customers' open periods that was
    not recorded before; returns the new crossings. Default: every customer with a
    contract in force now. One failing customer is logged; the others go on."""
    ids = sorted(customer_ids) if customer_ids is not None else customers_with_open_period(at=now)
    aggregations = metric_aggregations()
    created: list[AlertCrossing] = []
    for offset in range(0, len(ids), chunk_size):
        chunk = ids[offset:offset + chunk_size]
        customers = list(Customer.objects.filter(pk__in=chunk).order_by("pk"))
        statuses = period_statuses(customer_ids=chunk, at=now, aggregations=aggregations)
        thresholds = thresholds_of(chunk)
        recipients = recipients_of(customers)
        starts = {s.period_start for s in statuses.values()}
        recorded = set(AlertCrossing.objects.filter(
            customer_id__in=chunk, period_start__in=starts,
        ).values_list("customer_id", "key", "period_start"))
        for customer in customers:
            status = statuses.get(customer.pk)
            if status is None:
                continue
            for crossing in rules.crossings(thresholds[customer.pk], status):
                if (customer.pk, crossing.key, status.period_start) in recorded:
                    continue
                try:
                    row = _record(customer, status, crossing, recipients[customer.pk], now)
                except Exception:
                    logger.exception("alerts: recording %s for customer %s failed",
                                     crossing.key, customer.pk)
                    continue
                if row is not None:
                    created.append(row)
    alert_emails_retry(now=now)
    return created


# --- Email -----------------------------------------------------------------------------


def _email_text(row: AlertCrossing) -> tuple[str, str]:
    customer = row.customer
    subject = f"Usage alert for {customer.name}: {row.description}"[:200]
    period = f"{row.period_start:%d %b %Y} to {(row.period_end - dt.timedelta(days=1)):%d %b %Y}"
    lines = ["Hello,", "", f"{row.description}.", "",
             f"Customer: {customer.name} ({customer.external_id})",
             f"Billing period: {period}"]
    if row.kind == AlertThreshold.Kind.USAGE_PERCENT:
        lines.append(f"Used so far: {row.value.normalize():,f} of {row.allowance.normalize():,f} "
                     "included.")
    else:
        lines.append(f"Amount: {row.currency} {format_money(row.value, currency=row.currency)}")
    lines += ["", "You receive this email once per billing period for each threshold. "
                  "Customer admins change thresholds and recipients on the Alerts page."]
    return subject, "\n".join(lines)


def alert_email_send(*, crossing_id: int, now: dt.datetime) -> bool:
    """Email the crossing's recipients, once: the row is claimed under a lock, and its
    outcome (sent at, or the error) recorded. True when this call sent it."""
    with transaction.atomic():
        # of=("self",): the joined customer row stays unlocked, or two crossings of one
        # customer sent at once would skip each other (one email lost until the retry).
        row = (AlertCrossing.objects.select_for_update(skip_locked=True, of=("self",))
               .select_related("customer")
               .filter(pk=crossing_id, emailed_at__isnull=True, email_error="").first())
        if row is None:
            return False
        if not row.recipients:
            row.email_error = "No recipient (the customer has no email)."
            row.save(update_fields=["email_error"])
            return False
        subject, body = _email_text(row)
        try:
            send_mail(subject, body, None, row.recipients)
        except Exception as error:  # an SMTP failure is recorded, not retried (no spam)
            logger.exception("alert email %s failed", crossing_id)
            row.email_error = f"{type(error).__name__}: {error}"[:500]
            row.save(update_fields=["email_error"])
            return False
        row.emailed_at = now
        row.save(update_fields=["emailed_at"])
        return True


def alert_emails_retry(*, now: dt.datetime) -> int:
    """Send the emails of crossings whose send never happened (lost after the commit)."""
    stale = AlertCrossing.objects.filter(
        emailed_at__isnull=True, email_error="", crossed_at__lte=now - EMAIL_RETRY_AFTER,
        period_end__gt=now,
    ).values_list("pk", flat=True)
    return sum(alert_email_send(crossing_id=pk, now=now) for pk in list(stale))


# --- One row at a time (the admin) -------------------------------------------------------


@transaction.atomic
def alert_threshold_create(*, customer: Customer, kind: str, value: Any) -> AlertThreshold:
    if kind not in AlertThreshold.Kind.values:
        raise ValidationError({"kind": [f"Unknown kind {kind!r}."]})
    maximum = MAX_PERCENT if kind == AlertThreshold.Kind.USAGE_PERCENT else MAX_AMOUNT
    (amount,) = _amounts("value", [value], maximum=maximum)
    if AlertThreshold.objects.filter(customer=customer, kind=kind).count() >= MAX_THRESHOLDS:
        raise ValidationError({"value": [f"At most {MAX_THRESHOLDS} thresholds of a kind."]})
    try:
        with transaction.atomic():
            return AlertThreshold.objects.create(customer=customer, kind=kind, value=amount)
    except IntegrityError:
        raise ValidationError({"value": ["The customer has this threshold already."]}) from None


@transaction.atomic
def alert_recipient_create(*, customer: Customer, email: str) -> AlertRecipient:
    email = email.strip().lower()
    validate_email(email)
    try:
        with transaction.atomic():
            return AlertRecipient.objects.create(customer=customer, email=email)
    except IntegrityError:
        raise ValidationError({"email": ["The customer has this recipient already."]}) from None
