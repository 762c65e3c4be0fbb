"""The Team page: who logs in for the customer, and (for the customer's admins) inviting a
colleague as a viewer. Every user of the customer reads the list; only an admin sees the
form and may post it (``invoices.portal.access.require_customer_admin``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import customer_user_list
from accounts.services import customer_user_invite
from invoices.portal.access import is_customer_admin, portal_customer, require_customer_admin


class InviteForm(forms.Form):
    email = forms.EmailField(label="Their email address")
    name = forms.CharField(label="Their name (optional)", max_length=200, required=False)


def _page(request: HttpRequest, form: InviteForm | None, status: int = 200) -> HttpResponse:
    customer = portal_customer(request)
    admin = is_customer_admin(request)
    return render(request, "invoices/portal/team.html", {
        "customer": customer,
        "members": customer_user_list(customer=customer),
        "can_invite": admin,
        "form": (form or InviteForm()) if admin else None,
    }, status=status)


@login_required
def team_page(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


@require_POST
@require_customer_admin
def team_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)

    def set_password_url(*, uidb64: str, token: str) -> str:
        return request.build_absolute_uri(
            reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token}))

    try:
        membership = customer_user_invite(
            customer=request.portal_customer, email=form.cleaned_data["email"],
            name=form.cleaned_data["name"], set_password_url=set_password_url,
            now=timezone.now(),
        )
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
        return _page(request, form, status=400)
    messages.success(request, f"Invited {membership.user.email} as a viewer: they have an "
                              "email with a link to choose their password.")
    return redirect("portal-team")
