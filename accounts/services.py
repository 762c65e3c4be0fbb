"""Writes for customers, seats and API keys. Keyword-only, typed, atomic."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import ApiKey, Customer, CustomerUser, Seat
from common.currencies import is_supported

CUSTOMER_FIELDS = {"external_id", "name", "email", "currency", "stripe_customer_id", "archived"}
SEAT_FIELDS = {"email", "name", "active_from", "active_until"}

# Throttle for last_used_at writes: one UPDATE per key per minute, not per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

# Why a customer's currency may no longer change, asked of the apps that bill in it: each
# returns a reason or None. accounts sits below them and cannot ask them by name, so they
# register here from their AppConfig.ready() (plans: "it has a contract").
CurrencyLock = Callable[[Customer], str | None]
_currency_locks: list[CurrencyLock] = []


def register_currency_lock(lock: CurrencyLock) -> None:
    """Refuse a currency change whenever ``lock(customer)`` gives a reason (idempotent)."""
    if lock not in _currency_locks:
        _currency_locks.append(lock)


def _validate_currency(currency: str) -> None:
    if not is_supported(currency):
        raise ValidationError({"currency": [f"Unsupported currency {currency!r}; use ISO 4217."]})


@transaction.atomic
def customer_create(*, external_id: str, name: str, email: str, currency: str = "USD",
                    stripe_customer_id: str = "", archived: bool = False) -> Customer:
    _validate_currency(currency)
    customer = Customer(external_id=external_id, name=name, email=email, currency=currency,
                        stripe_customer_id=stripe_customer_id, archived=archived)
    customer.full_clean()
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise ValidationError(
            {"external_id": [f"A customer with external_id {external_id!r} already exists."]}
        ) from None
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, **changes: Any) -> Customer:
    unknown = set(changes) - CUSTOMER_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    if "currency" in changes and changes["currency"] != customer.currency:
        _validate_currency(changes["currency"])
        reasons = [reason for lock in _currency_locks if (reason := lock(customer))]
        if reasons:
            raise ValidationError({"currency": reasons})
    if "stripe_customer_id" in changes:
        # Set once: invoices already synced belong to that Stripe customer (migration
        # invoices 0005 enforces this in PostgreSQL too).
        stored = Customer.objects.values_list("stripe_customer_id", flat=True).get(pk=customer.pk)
        if stored and changes["stripe_customer_id"] != stored:
            raise ValidationError({"stripe_customer_id": [
                f"stripe_customer_id is already {stored!r} and is set once; it cannot change."
            ]})
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise ValidationError({"external_id": ["This external_id is already taken."]}) from None
    return customer


def _check_seat(seat: Seat) -> None:
    if seat.active_until is not None and seat.active_until <= seat.active_from:
        raise ValidationError({"active_until": ["active_until must be after active_from."]})
    overlapping = Seat.objects.filter(customer_id=seat.customer_id, email__iexact=seat.email)
    if seat.pk:
        overlapping = overlapping.exclude(pk=seat.pk)
    if seat.active_until is not None:
        overlapping = overlapping.filter(active_from__lt=seat.active_until)
    overlapping = overlapping.exclude(active_until__isnull=False, active_until__lte=seat.active_from)
    clash = overlapping.first()
    if clash is not None:
        until = clash.active_until.isoformat() if clash.active_until else "open-ended"
        raise ValidationError({"active_from": [
            f"{seat.email} already has a seat from {clash.active_from.isoformat()} to {until} "
            "that overlaps this interval."
        ]})


@transaction.atomic
def seat_create(*, customer: Customer, email: str, active_from: dt.datetime,
                active_until: dt.datetime | None = None, name: str = "") -> Seat:
    # Serialise seat writes per customer so the overlap check cannot race.
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    seat = Seat(customer=customer, email=email.strip().lower(), name=name,
                active_from=active_from, active_until=active_until)
    # _check_seat reports the interval rule on its field; the model constraint would not.
    seat.full_clean(validate_constraints=False)
    _check_seat(seat)
    seat.save()
    return seat


@transaction.atomic
def seat_update(*, seat: Seat, **changes: Any) -> Seat:
    unknown = set(changes) - SEAT_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    Customer.objects.select_for_update().filter(pk=seat.customer_id).first()
    for name, value in changes.items():
        setattr(seat, name, value.strip().lower() if name == "email" else value)
    # _check_seat reports the interval rule on its field; the model constraint would not.
    seat.full_clean(validate_constraints=False)
    _check_seat(seat)
    seat.save()
    return seat


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, scope: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is never stored or shown again."""
    if scope not in ApiKey.Scope.values:
        raise ValidationError({"scope": [f"Scope must be one of {', '.join(ApiKey.Scope.values)}."]})
    if not name.strip():
        raise ValidationError({"name": ["A key needs a name."]})
    prefix = secrets.token_hex(4)
    raw_key = f"bk_{scope}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(name=name.strip(), scope=scope, prefix=prefix,
                                key_hash=_hash_key(raw_key))
    return key, raw_key


def api_key_authenticate(*, raw_key: str, now: dt.datetime) -> ApiKey | None:
    key = ApiKey.objects.filter(key_hash=_hash_key(raw_key), revoked_at__isnull=True).first()
    if key is None:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, now: dt.datetime) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
    return key


@transaction.atomic
def customer_user_create(*, customer: Customer, username: str, password: str, email: str = "",
                         role: str = CustomerUser.Role.VIEWER) -> CustomerUser:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    return CustomerUser.objects.create(user=user, customer=customer, role=role)


def invite_username(email: str) -> str:
    """An invited colleague logs in with their email address (normalised)."""
    return email.strip().lower()


@transaction.atomic
def customer_user_invite(*, customer: Customer, email: str, set_password_url: Callable[..., str],
                         now: dt.datetime, name: str = "") -> CustomerUser:
    """A colleague of ``customer`` as a viewer: a new login named by their email, and an
    email (sent once the transaction commits) with a link to choose their password.

    The link is Django's password-reset link (``default_token_generator``): it works once,
    expires after ``PASSWORD_RESET_TIMEOUT``, and the colleague can always ask for a new
    one with "Forgot password?". ``set_password_url(uidb64=..., token=...)`` turns the pair
    into an absolute URL (the view knows the site's address). The login starts with a
    random password nobody knows, so the reset form, which skips logins without a usable
    password, serves it too. An email that already has a login is refused: the
    ``auth_user.username`` unique constraint decides, not a lookup.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.tokens import default_token_generator
    from django.core.mail import send_mail
    from django.core.validators import validate_email
    from django.template.loader import render_to_string
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    address = invite_username(email)
    try:
        validate_email(address)
    except ValidationError:
        raise ValidationError({"email": ["Enter a valid email address."]}) from None
    first, _, last = name.strip().partition(" ")
    user = get_user_model()(username=address, email=address, first_name=first[:150],
                            last_name=last[:150], date_joined=now)
    user.set_password(secrets.token_urlsafe(32))
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Said the same whichever customer the login is at.
        raise ValidationError({"email": [
            f"{address} already has a login and cannot be invited again; ask your billing "
            "support to move it."]}) from None
    membership = CustomerUser.objects.create(user=user, customer=customer,
                                             role=CustomerUser.Role.VIEWER)
    link = set_password_url(uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
                            token=default_token_generator.make_token(user))
    context = {"customer": customer, "user": user, "link": link}
    subject = render_to_string("registration/invite_subject.txt", context).strip()
    body = render_to_string("registration/invite_email.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [address]))
    return membership
