"""The ops views are staff-only; the admin index opens on the ops dashboard."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from accounts.services import customer_user_create
from invoices.models import Invoice
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URLS = ["/admin/ops/margins/", "/admin/ops/margins/?export=margins"]


def test_customer_users_and_anonymous_visitors_are_refused(client, book):
    customer = book[0].customer
    customer_user_create(customer=customer, username="viewer", password="pw-12345-long",
                         email="", role="viewer")
    urls = [*URLS, f"/admin/ops/customers/{customer.pk}/"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.login(username="viewer", password="pw-12345-long")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        assert b"beta" not in response.content


def test_staff_without_the_invoice_permission_get_403(client, book):
    user = get_user_model().objects.create_user("clerk", password="pw-12345-long",
                                                is_staff=True)
    client.force_login(user)
    assert client.get(URLS[0]).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(get_user_model().objects.get(pk=user.pk))
    assert client.get(URLS[0]).status_code == 200


def test_unknown_customer_is_404(admin_client, book):
    assert admin_client.get("/admin/ops/customers/999999/").status_code == 404


def test_admin_index_opens_on_the_dashboard_with_the_model_list_below(admin_client, book):
    Invoice.objects.filter(customer=book[0].customer).update(on_hold=True)
    CustomerFactory()

    html = admin_client.get("/admin/").content.decode()

    dashboard = html[html.index('id="ops-dashboard"'):html.index('id="content-related"')
                     if 'id="content-related"' in html else None]
    assert html.index('id="ops-dashboard"') < html.index('class="app-invoices')
    drafts = dashboard[dashboard.index('id="dash-drafts"'):]
    assert "?status__exact=draft" in drafts and "<strong>2</strong>" in drafts
    assert "(1 on hold)" in drafts
    assert "?stripe_state__exact=failed" in dashboard
    assert "/admin/usage/modelprice/unpriced/" in dashboard
    assert "?term_ends=next30" in dashboard
    assert "/admin/ops/margins/" in dashboard
    assert 'id="dash-margin"' in dashboard and "1 account(s) losing money" not in dashboard
    assert "0000000" not in dashboard
