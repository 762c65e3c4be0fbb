"""The lab's admin pages: Archetypes & recommendations (with the one-click draft) and
Pre-launch estimates, on the hand-computable book."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User

from plans.models import PlanVersion
from tests.factories import ModelPriceFactory
from tests.invoices.lab.pricing_book import AS_OF, build_book

pytestmark = pytest.mark.django_db

ARCHETYPES = "/admin/lab/archetypes/"
ESTIMATES = "/admin/lab/estimates/"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(AS_OF, tick=False):
        yield


def test_the_page_shows_the_recommendation_archetypes_and_the_chart_data(admin_client):
    _plan, _v1, v2 = build_book()
    response = admin_client.get(ARCHETYPES, {"plan": "team", "periods": 1,
                                             "candidate": v2.pk})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="seat-price">86.67 USD<' in page
    assert 'id="seat-only-verdict">Unsafe<' in page and 'id="spread">10.48<' in page
    assert 'id="money-at-stake">24.50 USD<' in page
    rows = {a["name"]: a for a in response.context["archetypes"]}
    assert rows["tail"]["seat_cost"] == "44.00"
    assert [(b["kind"], b["total"], b["margin"]) for b in rows["tail"]["bills"]] == [
        ("seat_only", "86.67", "42.67"), ("current", "30.00", "-14.00"),
        ("candidate", "37.00", "-7.00")]
    chart = response.context["chart"]
    assert sum(chart["values"]) == 5 and chart["markers"]["P80"] == 26.0
    assert 'id="distribution-data"' in page and "lab/pricing.js" in page
    assert "<script>" not in page.split("</head>")[1]  # data as JSON only, no inline code
    json.loads(page.split('id="distribution-data" type="application/json">')[1]
               .split("</script>")[0])


def test_the_page_opens_with_an_empty_form(admin_client):
    build_book()
    response = admin_client.get(ARCHETYPES)
    assert response.status_code == 200 and response.context["report"] is None


def test_a_candidate_of_another_plan_is_refused(admin_client):
    build_book()
    other = PlanVersion.objects.get(plan__code="solo")
    response = admin_client.get(ARCHETYPES, {"plan": "team", "candidate": other.pk})
    assert response.context["form"].errors["candidate"] == ["Choose a version of team."]


def test_one_click_makes_the_draft_version(admin_client):
    plan, _v1, _v2 = build_book()
    response = admin_client.post("/admin/lab/archetypes/draft/", {
        "plan": "team", "periods": 1, "percentile": 80, "target_margin": "0.7", "share": "0.8"})
    draft = PlanVersion.objects.get(plan=plan, version=3)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/plans/planversion/{draft.pk}/change/"
    assert (draft.status, draft.seat_price) == ("draft", Decimal("86.67"))


def test_a_viewer_without_the_add_permission_cannot_draft(client):
    build_book()
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission
    user.user_permissions.add(Permission.objects.get(codename="view_planversion"))
    client.force_login(user)
    assert client.get(ARCHETYPES, {"plan": "team", "periods": 1}).status_code == 200
    assert client.post("/admin/lab/archetypes/draft/", {"plan": "team"}).status_code == 403
    assert PlanVersion.objects.count() == 3


def test_a_customer_user_is_sent_to_the_admin_login(client):
    user = User.objects.create_user("someone", password="pw")
    client.force_login(user)
    response = client.get(ARCHETYPES)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_estimates_page_prices_the_archetypes_from_the_model(admin_client):
    ModelPriceFactory()
    response = admin_client.get(ESTIMATES, {
        "light": "20", "median": "60", "heavy": "200", "tail": "600", "calls_per_action": "4",
        "input_tokens": "1200", "output_tokens": "300", "model": "openai|gpt-4.1-mini",
        "target_margin": "0.7", "currency": "USD"})
    assert response.status_code == 200
    result = response.context["result"]
    assert (result["call_cost"], result["seat_price"], result["spread"], result["unsafe"]) == (
        "0.00096", "2.56 USD", "30", True)
    assert [r["seat_cost"] for r in result["rows"]] == ["0.0768", "0.2304", "0.768", "2.304"]


def test_estimates_page_rates_the_archetypes_on_a_version(admin_client):
    ModelPriceFactory()
    _plan, _v1, v2 = build_book(candidate_published=True)
    response = admin_client.get(ESTIMATES, {
        "light": "20", "median": "60", "heavy": "200", "tail": "600", "calls_per_action": "4",
        "input_tokens": "1200", "output_tokens": "300", "model": "openai|gpt-4.1-mini",
        "target_margin": "0.7", "currency": "USD", "plan": v2.pk, "action_metric": "tasks"})
    rows = response.context["result"]["rows"]
    assert [r["bills"][1]["total"] for r in rows] == ["20.00", "20.00", "25.00", "45.00"]


def test_the_lab_app_page_links_the_lab_pages(admin_client):
    response = admin_client.get("/admin/lab/")
    assert response.status_code == 200
    page = response.content.decode()
    for path in (ARCHETYPES, ESTIMATES, "/admin/lab/migrations/"):
        assert f'href="{path}"' in page
