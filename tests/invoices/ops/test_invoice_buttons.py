"""The invoice page has Finalize / Hold / Void buttons calling the lifecycle services."""

from __future__ import annotations

import pytest

from invoices.models import Invoice

pytestmark = pytest.mark.django_db


def page(invoice: Invoice) -> str:
    return f"/admin/invoices/invoice/{invoice.pk}/change/"


def draft(book) -> Invoice:
    return Invoice.objects.get(customer=book[0].customer)


def test_a_draft_shows_finalize_hold_and_void(admin_client, book):
    html = admin_client.get(page(draft(book))).content.decode()

    for verb in ("finalize", "hold", "void"):
        assert f"/{draft(book).pk}/{verb}/" in html
    assert "csrfmiddlewaretoken" in html and "release" not in html.split("object-tools")[1][:2000]


def test_finalize_button_numbers_the_draft(admin_client, book):
    invoice = draft(book)
    response = admin_client.post(f"{page(invoice)[:-7]}finalize/", follow=True)

    invoice.refresh_from_db()
    assert invoice.status == "finalized" and invoice.number
    assert response.redirect_chain[-1][0] == page(invoice)
    html = response.content.decode()
    assert "Finalize:" in html and f"/{invoice.pk}/finalize/" not in html
    assert f"/{invoice.pk}/void/" in html


def test_finalize_and_hold_refuse_get(admin_client, book):
    invoice = draft(book)
    assert admin_client.get(f"{page(invoice)[:-7]}finalize/").status_code == 405
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"


def test_hold_then_release(admin_client, book):
    invoice = draft(book)
    admin_client.post(f"{page(invoice)[:-7]}hold/")
    assert Invoice.objects.get(pk=invoice.pk).on_hold
    assert f"/{invoice.pk}/release/" in admin_client.get(page(invoice)).content.decode()
    admin_client.post(f"{page(invoice)[:-7]}release/")
    assert not Invoice.objects.get(pk=invoice.pk).on_hold


def test_void_asks_first_then_voids_on_post(admin_client, book):
    invoice = draft(book)
    url = f"{page(invoice)[:-7]}void/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200 and b"Yes, void" in confirm.content
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"

    admin_client.post(url)
    assert Invoice.objects.get(pk=invoice.pk).status == "void"


def test_a_refused_transition_comes_back_as_a_message(admin_client, book):
    invoice = draft(book)
    admin_client.post(f"{page(invoice)[:-7]}void/")
    response = admin_client.post(f"{page(invoice)[:-7]}finalize/", follow=True)
    assert Invoice.objects.get(pk=invoice.pk).status == "void"
    assert b"errornote" in response.content or b"error" in response.content


def test_buttons_need_the_change_permission(client, book):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("reader", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_invoice"))
    client.force_login(user)
    invoice = draft(book)
    assert f"/{invoice.pk}/finalize/".encode() not in client.get(page(invoice)).content
    assert client.post(f"{page(invoice)[:-7]}finalize/").status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "draft"


def test_invoice_pages_show_money_in_minor_units(admin_client, book):
    invoice = draft(book)
    listing = admin_client.get("/admin/invoices/invoice/").content.decode()
    detail = admin_client.get(page(invoice)).content.decode()

    total = f"{invoice.total:,.2f}"
    assert f"{total} USD" in listing and f"{total} USD" in detail
    assert "40.00" in detail  # the seat price of a line
    assert "0000000" not in listing and "0000000" not in detail
