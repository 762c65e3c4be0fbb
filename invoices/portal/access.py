"""Who may see and change what in the customer portal: the one place every portal view asks.

- :func:`portal_customer` gives the view the Customer of the logged-in user, or raises
  ``Http404``. A portal view never takes a customer from the URL or the query string:
  it reads only this customer's data, and it looks up any object named in the URL
  *within* this customer (``invoice_list(customer=customer).filter(pk=...)``), so an id
  of another customer's object is a 404, exactly like an id that does not exist (a 403
  would tell a stranger the id is real).
- :func:`require_customer_admin` wraps a view that changes the customer's settings
  (inviting a colleague, alert thresholds and recipients): logged-in users of the
  customer with the *viewer* role get a 403 page (they may read, not change); anonymous
  visitors go to the login page; anyone else gets the 404 of :func:`portal_customer`.
  The wrapped view finds the customer as ``request.portal_customer``.

Staff (ops) logins have no customer: the portal answers them 404 and they use the admin.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from accounts.models import Customer, CustomerUser
from accounts.selectors import customer_membership

View = Callable[..., HttpResponse]


def portal_membership(request: HttpRequest) -> CustomerUser:
    """The logged-in user's link to their customer (with ``.customer``) or ``Http404``."""
    membership = customer_membership(user=request.user)
    if membership is None:
        raise Http404("This login is not linked to a customer.")
    return membership


def portal_customer(request: HttpRequest) -> Customer:
    """The Customer whose portal the logged-in user reads; ``Http404`` for anyone else."""
    return portal_membership(request).customer


def is_customer_admin(request: HttpRequest) -> bool:
    """For templates: show the admin-only links and forms (the views check again)."""
    membership = customer_membership(user=request.user)
    return membership is not None and membership.role == CustomerUser.Role.ADMIN


def require_customer_admin(view: View) -> View:
    """Only a customer admin reaches ``view``; see the module docstring for the others."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership = portal_membership(request)
        if membership.role != CustomerUser.Role.ADMIN:
            raise PermissionDenied("Only an admin of your customer can change this.")
        request.portal_customer = membership.customer
        return view(request, *args, **kwargs)

    return wrapped
