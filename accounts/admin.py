"""Ops admin for customers, seats, customer users and API keys.

Every write goes through ``accounts.services``, with the service-backed forms of
``common.admin`` (validated by a dry run of the service, saved by the service).

The contract columns and filters of the customer list are added by ``plans.admin``
(plans depends on accounts, never the other way round).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts import lockout_admin  # noqa: F401  (the login lockout's Unlock action)
from accounts.models import ApiKey, Customer, CustomerUser, Seat
from accounts.services import (
    CUSTOMER_FIELDS,
    SEAT_FIELDS,
    api_key_create,
    api_key_revoke,
    customer_create,
    customer_update,
    customer_user_create,
    seat_create,
    seat_update,
)
from common.admin import ServiceAdminMixin, ServiceInlineFormSet, ServiceModelForm, adopt

admin.site.site_header = "Billing back office"
admin.site.site_title = "Billing admin"
admin.site.index_title = "Operations"

# Seats that ended longer ago than this are left off the customer page's inline (they
# stay on the seats list); a customer with years of churn would otherwise load them all.
SEAT_INLINE_RECENT = dt.timedelta(days=60)


def _now() -> dt.datetime:
    return timezone.now()


def _active_at(now: dt.datetime, prefix: str = "") -> Q:
    return Q(**{f"{prefix}active_from__lte": now}) & (
        Q(**{f"{prefix}active_until__isnull": True}) | Q(**{f"{prefix}active_until__gt": now})
    )


# --- customers -----------------------------------------------------------------------------


class CustomerForm(ServiceModelForm):
    class Meta:
        model = Customer
        fields = ["external_id", "name", "email", "currency", "stripe_customer_id", "archived"]

    def service_call(self) -> Customer:
        if self.adding:
            return customer_create(**{name: self.cleaned_data[name] for name in self.fields
                                      if name in CUSTOMER_FIELDS})
        # A fresh row: the service compares the stored currency with the new one.
        stored = Customer.objects.get(pk=self.instance.pk)
        return customer_update(customer=stored, **self.changes(CUSTOMER_FIELDS))


class SeatInlineFormSet(ServiceInlineFormSet):
    def write(self, form, parent):
        data = {name: form.cleaned_data[name] for name in SEAT_FIELDS}
        if form.instance.pk is None:
            return seat_create(customer=parent, **data)
        return seat_update(seat=Seat.objects.get(pk=form.instance.pk),
                           **{name: data[name] for name in form.changed_data if name in data})


class SeatInline(admin.TabularInline):
    model = Seat
    formset = SeatInlineFormSet
    fields = ("email", "name", "active_from", "active_until")
    extra = 0
    can_delete = False  # end a seat with active_until: past invoices must stay explainable
    verbose_name_plural = "Seats (active, upcoming, or ended in the last 60 days)"

    def get_queryset(self, request):
        recent = _now() - SEAT_INLINE_RECENT
        return super().get_queryset(request).filter(
            Q(active_until__isnull=True) | Q(active_until__gte=recent)
        ).order_by("email", "active_from")


class CustomerUserInline(admin.TabularInline):
    model = CustomerUser
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0
    verbose_name = "login"
    verbose_name_plural = "Logins for the customer pages"


@admin.register(Customer)
class CustomerAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = CustomerForm
    list_display = ("external_id", "name", "email", "currency", "seats_now", "archived")
    list_display_links = ("external_id", "name")
    list_filter = (("currency", admin.AllValuesFieldListFilter), "archived")
    search_fields = ("external_id", "name", "email")
    readonly_fields = ("all_seats_link", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("external_id", "name", "email", "currency", "archived")}),
        ("Seats", {"fields": ("all_seats_link",)}),
        ("Stripe", {"fields": ("stripe_customer_id",), "classes": ("collapse",)}),
        ("Timestamps", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )
    inlines = (SeatInline, CustomerUserInline)
    actions = ("archive", "unarchive")
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _seats_now=Count("seats", filter=_active_at(_now(), "seats__"), distinct=True)
        )

    @admin.display(description="Seats active now", ordering="_seats_now")
    def seats_now(self, customer: Customer) -> int:
        return customer._seats_now

    @admin.display(description="All seats")
    def all_seats_link(self, customer: Customer) -> str:
        if customer.pk is None:
            return "—"
        url = reverse("admin:accounts_seat_changelist") + f"?customer__id__exact={customer.pk}"
        return format_html('<a href="{}">All seats of {}, with history →</a>', url,
                           customer.external_id)

    def _set_archived(self, request, queryset, archived: bool) -> None:
        done = 0
        for customer in queryset.filter(archived=not archived):
            try:
                customer_update(customer=customer, archived=archived)
            except ValidationError as error:
                self.message_user(request, f"{customer.external_id}: {'; '.join(error.messages)}",
                                  messages.ERROR)
            else:
                done += 1
        verb = "Archived" if archived else "Unarchived"
        self.message_user(request, f"{verb} {done} customer(s).", messages.SUCCESS)

    @admin.action(description="Archive selected customers (they accept no more usage)")
    def archive(self, request, queryset):
        self._set_archived(request, queryset, True)

    @admin.action(description="Unarchive selected customers")
    def unarchive(self, request, queryset):
        self._set_archived(request, queryset, False)


# --- seats ---------------------------------------------------------------------------------


class ActiveNowFilter(admin.SimpleListFilter):
    title = "active now"
    parameter_name = "active_now"

    def lookups(self, request, model_admin):
        return (("yes", "Active now"), ("no", "Not active now"))

    def queryset(self, request, queryset):
        active = _active_at(_now())
        if self.value() == "yes":
            return queryset.filter(active)
        if self.value() == "no":
            return queryset.exclude(active)
        return queryset


class SeatForm(ServiceModelForm):
    class Meta:
        model = Seat
        fields = ["customer", "email", "name", "active_from", "active_until"]

    def service_call(self) -> Seat:
        if self.adding:
            return seat_create(**{name: self.cleaned_data[name] for name in self.fields})
        return seat_update(seat=Seat.objects.get(pk=self.instance.pk),
                           **self.changes(SEAT_FIELDS))


@admin.register(Seat)
class SeatAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = SeatForm
    list_display = ("email", "name", "customer", "active_from", "active_until", "active_now")
    list_filter = (ActiveNowFilter, ("customer", admin.RelatedOnlyFieldListFilter))
    search_fields = ("email", "name", "customer__external_id", "customer__name")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "active_from"

    def get_readonly_fields(self, request, obj=None):
        # A seat belongs to one customer for good; moving it would rewrite billed history.
        return (*self.readonly_fields, "customer") if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # end a seat with active_until instead

    @admin.display(boolean=True, description="Active now")
    def active_now(self, seat: Seat) -> bool:
        now = _now()
        return seat.active_from <= now and (seat.active_until is None or seat.active_until > now)


# --- customer users ------------------------------------------------------------------------


class CustomerUserAddForm(forms.ModelForm):
    """Creates the login and its link in one go, through ``customer_user_create``."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password again", strip=False, widget=forms.PasswordInput)

    class Meta:
        model = CustomerUser
        fields = ["customer", "role"]

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError("A user with that username already exists.")
        return username

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(data["password1"], user)
            except ValidationError as error:
                self.add_error("password1", error)
        return data

    def save_via_service(self) -> CustomerUser:
        link = customer_user_create(
            customer=self.cleaned_data["customer"], username=self.cleaned_data["username"],
            password=self.cleaned_data["password1"], email=self.cleaned_data.get("email", ""),
            role=self.cleaned_data["role"],
        )
        adopt(self.instance, link)
        return self.instance


@admin.register(CustomerUser)
class CustomerUserAdmin(admin.ModelAdmin):
    list_display = ("username", "customer", "role", "user_email", "last_login", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "user__email", "customer__external_id", "customer__name")
    list_select_related = ("user", "customer")
    autocomplete_fields = ("customer",)
    readonly_fields = ("user", "created_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = CustomerUserAddForm
            kwargs["fields"] = None
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return ((None, {"fields": ("customer", "role", "username", "email", "password1",
                                       "password2")}),)
        return ((None, {"fields": ("user", "customer", "role", "created_at")}),)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            obj.save()  # customer and role only: a plain link, no rules to apply
        else:
            form.save_via_service()

    @admin.display(description="Username", ordering="user__username")
    def username(self, link: CustomerUser) -> str:
        return link.user.get_username()

    @admin.display(description="Email", ordering="user__email")
    def user_email(self, link: CustomerUser) -> str:
        return link.user.email

    @admin.display(description="Last login", ordering="user__last_login")
    def last_login(self, link: CustomerUser):
        return link.user.last_login


# --- API keys ------------------------------------------------------------------------------


class ApiKeyForm(ServiceModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "scope"]

    def service_call(self) -> ApiKey:
        key, raw_key = api_key_create(name=self.cleaned_data["name"],
                                      scope=self.cleaned_data["scope"])
        self.raw_key = raw_key
        return key


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("revoked", "Revoked"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here or by ``create_api_key``; only the hash is stored."""

    form = ApiKeyForm
    list_display = ("name", "key_prefix", "scope", "is_active", "created_at", "last_used_at",
                    "revoked_at")
    list_filter = ("scope", RevokedFilter)
    search_fields = ("name", "prefix")
    actions = ("revoke",)
    readonly_fields = ("name", "scope", "key_prefix", "created_at", "last_used_at", "revoked_at")

    def get_fields(self, request, obj=None):
        return ("name", "scope") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # A key is immutable once issued: revoke it and issue another.
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # revoked keys stay listed: they explain past API calls

    def save_model(self, request, obj, form, change):
        form.save_via_service()
        # Shown this once: only the SHA-256 is stored, so it can never be displayed again.
        self.message_user(request, format_html(
            "New {} key: <code>{}</code> — copy it now, it will not be shown again.",
            obj.scope, form.raw_key,
        ), messages.SUCCESS)

    @admin.display(description="Prefix", ordering="prefix")
    def key_prefix(self, key: ApiKey) -> str:
        return f"bk_{key.scope}_{key.prefix}_…"

    @admin.display(boolean=True, description="Active")
    def is_active(self, key: ApiKey) -> bool:
        return key.is_active

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        now = _now()
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            api_key_revoke(key=key, now=now)
        self.message_user(request, f"Revoked {len(keys)} key(s).", messages.SUCCESS)
