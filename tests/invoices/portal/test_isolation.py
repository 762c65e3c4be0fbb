"""A customer's user can never see another customer's data, by any portal URL.

The walk is built from the URL resolver, not from a list kept by hand: every named URL of
``invoices/portal/urls.py`` (and every URL anywhere whose view lives in the portal or the
alerts package) must have a builder in ``BUILDERS`` below, which makes the probes for it
from customer acme's objects. A URL added later without a builder fails
``test_every_customer_facing_url_is_walked``, naming it.

A probe is one of two kinds:

- ``theirs``: a URL naming one of acme's objects (an invoice, a line, a threshold). As
  a user of globex it must be a 404: not a 403 (that would confirm the id exists) and
  not a 200. As acme's own admin the same URL answers (so the 404 is not a typo).
- ``own``: a URL that names no object (the dashboard, the lists, the exports, the
  forms). As globex's user it shows globex's data: the body carries none of acme's
  markers (its name, invoice number and id, its people, its usage), even with acme's
  ids slipped into the query string.

Also here: every POST is refused without a CSRF token, every form carries one, and the
staff-only admin and ops views refuse a customer's user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

import invoices.portal.urls as portal_urls
from accounts.models import CustomerUser
from invoices.alerts.selectors import alert_settings
from invoices.alerts.services import alert_settings_update
from invoices.models import Invoice
from tests.factories import CustomerFactory
from tests.invoices.portal.conftest import PASSWORD, _client_of, _member

pytestmark = pytest.mark.django_db

# Views living here are customer-facing wherever they are mounted.
PORTAL_PACKAGES = ("invoices.portal", "invoices.alerts")
ACME_NAME = "Acme Rockets Unlimited"
ACME_RECIPIENT = "alerts@acme-rockets.test"


@dataclass
class World:
    """Customer acme's objects, which globex's users must never reach."""

    invoice: Invoice
    usage_position: int
    acme_admin: Client
    globex_admin: Client
    markers: tuple[str, ...]
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    kind: str  # "theirs" (acme's object: 404) or "own" (globex's own data only)
    path: str
    method: str = "get"
    data: dict | None = None


def theirs(path: str, method: str = "get", data: dict | None = None) -> Probe:
    return Probe("theirs", path, method, data)


def own(path: str, method: str = "get", data: dict | None = None) -> Probe:
    return Probe("own", path, method, data)


Builder = Callable[[World], list[Probe]]

# One entry per customer-facing url name: the probes made from acme's objects.
BUILDERS: dict[str, Builder] = {
    "home": lambda w: [own(reverse("home"))],
    "portal-invoices": lambda w: [own(reverse("portal-invoices")),
                                  own(reverse("portal-invoices") + "?page=2")],
    "invoice-page": lambda w: [theirs(reverse("invoice-page", args=[w.invoice.pk]))],
    "invoice-pdf": lambda w: [theirs(reverse("invoice-pdf", args=[w.invoice.pk]))],
    "portal-export-line-events": lambda w: [
        theirs(reverse("portal-export-line-events", args=[w.invoice.pk, w.usage_position])),
        theirs(reverse("portal-export-line-events", args=[w.invoice.pk, 0])),
    ],
    "portal-exports": lambda w: [own(reverse("portal-exports"))],
    "portal-export-usage": lambda w: [
        own(reverse("portal-export-usage") + "?from=2026-10-01&to=2026-10-31")],
    "portal-team": lambda w: [own(reverse("portal-team"))],
    "portal-team-invite": lambda w: [
        own(reverse("portal-team-invite"), "post", {"email": "new-colleague@globex.test"})],
    "portal-alerts": lambda w: [
        own(reverse("portal-alerts")),
        own(reverse("portal-alerts"), "post", {"spend_amounts": "5",
                                                "recipients": "ops@globex.test"})],
}


def _names(patterns, found: set[str]) -> set[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _names(pattern.url_patterns, found)
        elif isinstance(pattern, URLPattern):
            found.add(pattern.name or f"<unnamed {pattern.pattern}>")
    return found


def _portal_views(patterns) -> Iterator[str]:
    """Names of URLs anywhere whose view is defined in a portal package."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _portal_views(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            module = getattr(pattern.callback, "__module__", "") or ""
            if module.startswith(PORTAL_PACKAGES):
                yield pattern.name or f"<unnamed {pattern.pattern}>"


def customer_facing_names() -> set[str]:
    names = _names(portal_urls.urlpatterns, set())
    names.update(_portal_views(get_resolver().url_patterns))
    return names


def test_every_customer_facing_url_is_walked():
    missing = sorted(customer_facing_names() - set(BUILDERS))
    assert not missing, (
        f"customer-facing URLs without an isolation probe: {missing}; add a builder to "
        "BUILDERS in tests/invoices/portal/test_isolation.py")
    stale = sorted(set(BUILDERS) - customer_facing_names())
    assert not stale, f"BUILDERS names URLs that no longer exist: {stale}"


@pytest.fixture
def world(acme_invoice) -> World:
    customer = acme_invoice.customer
    customer.name = ACME_NAME
    customer.save(update_fields=["name"])
    acme_admin = _client_of(_member(customer, "acme-admin", CustomerUser.Role.ADMIN))
    globex = CustomerFactory(external_id="globex", name="Globex")
    globex_admin = _client_of(_member(globex, "globex-admin", CustomerUser.Role.ADMIN))
    usage = acme_invoice.lines.get(kind="usage")
    alert_settings_update(customer=customer, usage_percents=["55"], spend_amounts=["123"],
                          recipients=[ACME_RECIPIENT])
    return World(
        invoice=acme_invoice, usage_position=usage.position, acme_admin=acme_admin,
        globex_admin=globex_admin,
        markers=(ACME_NAME, acme_invoice.number, str(acme_invoice.pk), "acme-admin",
                 "user0@acme.test", "5200", "5,200", ACME_RECIPIENT),
    )


def _probes(world: World) -> list[tuple[str, Probe]]:
    return [(name, probe) for name in sorted(customer_facing_names())
            for probe in BUILDERS[name](world)]


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _call(client: Client, probe: Probe, path: str | None = None):
    return getattr(client, probe.method)(path or probe.path, probe.data or {})


def _tampered(path: str, world: World) -> str:
    """acme's ids in the query string, where a careless view might read them."""
    joiner = "&" if "?" in path else "?"
    customer = world.invoice.customer
    return (f"{path}{joiner}customer={customer.external_id}&customer_id={customer.pk}"
            f"&invoice={world.invoice.pk}&invoice_id={world.invoice.pk}")


def test_another_customers_user_gets_a_404_for_every_object_of_acme(world):
    problems = []
    before = _acme_state(world)
    for name, probe in _probes(world):
        for path in (probe.path, _tampered(probe.path, world)):
            response = _call(world.globex_admin, probe, path)
            body = _body(response)
            if probe.kind == "theirs":
                if response.status_code != 404:
                    problems.append(f"{name} {probe.method.upper()} {path}: "
                                    f"{response.status_code}, expected 404")
            else:
                if response.status_code in (403, 404) or response.status_code >= 500:
                    problems.append(f"{name} {path}: {response.status_code} for its own data")
                leaked = [m for m in world.markers if m in body]
                if leaked:
                    problems.append(f"{name} {probe.method.upper()} {path} shows acme's {leaked}")
    assert not problems, "\n".join(problems)
    # Nothing the walk posted landed on acme.
    assert _acme_state(world) == before


def _acme_state(world: World) -> tuple:
    """What a form of the portal could change for acme: its logins, its alert settings."""
    customer = world.invoice.customer
    return (sorted(CustomerUser.objects.filter(customer=customer)
                   .values_list("user__username", "role")),
            alert_settings(customer=customer))


def test_the_probes_reach_acmes_objects_as_acme(world):
    """The 404s above are about who asks: acme's own admin opens the same URLs."""
    for name, probe in _probes(world):
        if probe.kind == "theirs" and probe.method == "get":
            response = _call(world.acme_admin, probe)
            if name == "portal-export-line-events" and probe.path.endswith("/0/events.csv"):
                continue  # line 0 is the seat line: no events, a 404 for everyone
            assert response.status_code == 200, (name, probe.path, response.status_code)


def test_anonymous_visitors_are_sent_to_the_login_page(world):
    anonymous = Client()
    for name, probe in _probes(world):
        response = _call(anonymous, probe)
        if response.status_code == 405:  # refused by method before anything else
            continue
        assert response.status_code == 302, (name, probe.path, response.status_code)
        assert response["Location"].startswith("/accounts/login/"), (name, response["Location"])


# --- CSRF --------------------------------------------------------------------------------

def _csrf_client(world: World) -> Client:
    membership = CustomerUser.objects.get(user__username="acme-admin")
    return _client_of(membership, enforce_csrf_checks=True)


def test_every_post_without_a_csrf_token_is_refused(world):
    client = _csrf_client(world)
    refused = []
    for name, probe in _probes(world):
        response = client.post(probe.path, probe.data or {"x": "1"})
        if response.status_code != 403 or "CSRF" not in response.content.decode():
            refused.append(f"{name} {probe.path}: {response.status_code}")
    for path in ("/accounts/login/", "/accounts/logout/", "/accounts/password_reset/"):
        response = Client(enforce_csrf_checks=True).post(path, {"username": "acme-admin",
                                                                "password": PASSWORD,
                                                                "email": "x@example.test"})
        if response.status_code != 403:
            refused.append(f"{path}: {response.status_code}")
    assert not refused, "accepted without a CSRF token:\n" + "\n".join(refused)


def test_every_form_carries_a_csrf_token_and_posts_with_it(world):
    client = _csrf_client(world)
    pages = [probe.path for _, probe in _probes(world) if probe.method == "get"]
    pages += ["/accounts/password_reset/"]
    checked = 0
    for path in pages:
        response = client.get(path)
        if (getattr(response, "streaming", False) or response.status_code != 200
                or not response["Content-Type"].startswith("text/html")):
            continue  # the CSV exports, the PDF
        html = response.content.decode()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
            if re.search(r'method="post"', form, flags=re.I):
                checked += 1
                assert 'name="csrfmiddlewaretoken"' in form, (path, form[:200])
    assert checked >= 2  # at least the logout form and the invite form
    # With the token, the invite goes through: CSRF is what refused the posts above.
    page = client.get(reverse("portal-team"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    response = client.post(reverse("portal-team-invite"), {
        "email": "with-token@acme.test", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


# --- Staff only ----------------------------------------------------------------------------

def _staff_only_paths() -> list[str]:
    paths = [reverse("admin:index")]
    for model in admin.site._registry:
        opts = model._meta
        for view in ("changelist", "add"):
            paths.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}"))
    resolver = get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern).startswith("admin/ops/"):
            for sub in pattern.url_patterns:
                if isinstance(sub, URLPattern) and not sub.pattern.converters:
                    paths.append(f"/admin/ops/{sub.pattern}")
    return paths


def test_staff_only_views_refuse_customer_users(world):
    paths = _staff_only_paths()
    assert len(paths) > 10
    for path in paths:
        response = world.acme_admin.get(path)
        assert response.status_code in (302, 403, 404), (path, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response["Location"], (path, response["Location"])
    # ... and the ops view that takes a customer too.
    path = reverse("ops:customer", kwargs={"customer_id": world.invoice.customer_id})
    assert world.acme_admin.get(path).status_code in (302, 403, 404)
