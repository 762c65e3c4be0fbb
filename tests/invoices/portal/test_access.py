"""The portal's access rules: the logged-in user's customer or a 404; admins change, viewers
read (invoices/portal/access.py, accounts.selectors.customer_user_can_manage)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from accounts.models import CustomerUser
from accounts.selectors import customer_user_can_manage
from invoices.portal.access import portal_customer, require_customer_admin
from tests.factories import CustomerFactory
from tests.invoices.portal.conftest import _member

pytestmark = pytest.mark.django_db


@require_customer_admin
def _change(request):
    return HttpResponse(request.portal_customer.external_id)


def _request(user):
    request = RequestFactory().post("/x/")
    request.user = user
    return request


def test_portal_customer_is_the_users_own_or_a_404():
    acme = CustomerFactory(external_id="acme")
    viewer = _member(acme, "v", CustomerUser.Role.VIEWER).user
    assert portal_customer(_request(viewer)) == acme
    for user in (get_user_model().objects.create_user("loose"),
                 get_user_model().objects.create_user("ops", is_staff=True), AnonymousUser()):
        with pytest.raises(Http404):
            portal_customer(_request(user))


def test_only_a_customer_admin_passes_the_decorator():
    acme = CustomerFactory(external_id="acme")
    admin = _member(acme, "a", CustomerUser.Role.ADMIN).user
    viewer = _member(acme, "v", CustomerUser.Role.VIEWER).user

    assert _change(_request(admin)).content == b"acme"
    with pytest.raises(PermissionDenied):
        _change(_request(viewer))
    with pytest.raises(Http404):
        _change(_request(get_user_model().objects.create_user("loose")))
    anonymous = _change(_request(AnonymousUser()))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_customer_user_can_manage_only_their_own_customer_as_admin():
    acme, globex = CustomerFactory(), CustomerFactory()
    admin = _member(acme, "a", CustomerUser.Role.ADMIN).user
    viewer = _member(acme, "v", CustomerUser.Role.VIEWER).user
    assert customer_user_can_manage(user=admin, customer=acme)
    assert not customer_user_can_manage(user=admin, customer=globex)
    assert not customer_user_can_manage(user=viewer, customer=acme)
    assert not customer_user_can_manage(user=AnonymousUser(), customer=acme)
