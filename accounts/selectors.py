"""Reads shared by the API, the admin and the pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import ApiKey, Customer, CustomerUser, Seat


def customer_get(*, external_id: str) -> Customer | None:
    if "\x00" in external_id:  # names no customer; PostgreSQL refuses it as a parameter (a 500)
        return None
    return Customer.objects.filter(external_id=external_id).first()


def customer_list(*, include_archived: bool = True, search: str | None = None,
                  archived: bool | None = None) -> QuerySet[Customer]:
    """``archived`` True/False keeps only archived / only live customers; None keeps both."""
    customers = Customer.objects.all()
    if not include_archived:
        customers = customers.filter(archived=False)
    if archived is not None:
        customers = customers.filter(archived=archived)
    if search:
        customers = customers.filter(
            Q(external_id__icontains=search) | Q(name__icontains=search) | Q(email__icontains=search)
        )
    return customers


def seat_list(*, customer: Customer) -> QuerySet[Seat]:
    return Seat.objects.filter(customer=customer).select_related("customer")


def seat_get(*, customer: Customer, seat_id: int) -> Seat | None:
    """The seat, only if it belongs to ``customer`` (a path names both)."""
    return seat_list(customer=customer).filter(pk=seat_id).first()


def api_key_get(*, prefix: str) -> ApiKey | None:
    return ApiKey.objects.filter(prefix=prefix).first()


# --- The portal's logins -----------------------------------------------------------------


def customer_membership(*, user) -> CustomerUser | None:
    """The link of a logged-in (non-staff) user to their one customer, with the customer."""
    if not getattr(user, "is_authenticated", False):
        return None
    return CustomerUser.objects.filter(user=user).select_related("customer").first()


def customer_user_can_manage(*, user, customer: Customer) -> bool:
    """Whether ``user`` is an admin of ``customer``: invites colleagues, sets alert
    thresholds. A viewer, another customer's admin or a staff login without a membership
    may not (staff manage customers in the admin)."""
    membership = customer_membership(user=user)
    return (membership is not None and membership.customer_id == customer.pk
            and membership.role == CustomerUser.Role.ADMIN)


def customer_user_list(*, customer: Customer) -> QuerySet[CustomerUser]:
    """The people who log in for ``customer``, admins first, then by username."""
    return (CustomerUser.objects.filter(customer=customer).select_related("user")
            .order_by("role", "user__username"))
