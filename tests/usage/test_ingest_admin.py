"""Admin: provider prices are editable; unpriced models are listed with their counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, ModelPriceFactory
from usage.ingest import ingest_events
from usage.models import ModelPrice

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.UTC)
pytestmark = pytest.mark.django_db


def ai_call(tid, model, customer="acme"):
    return {"transaction_id": tid, "customer": customer, "event_type": "ai.call",
            "timestamp": "2026-11-15T10:00:00Z",
            "properties": {"model": model, "input_tokens": 10, "output_tokens": 5}}


def test_model_price_changelist_links_to_unpriced_models_and_filters(admin_client):
    ModelPriceFactory(provider="openai", model="gpt-4.1-mini")
    ModelPriceFactory(provider="anthropic", model="claude-sonnet-4")
    url = reverse("admin:usage_modelprice_changelist")
    page = admin_client.get(url).content.decode()
    assert reverse("admin:usage_modelprice_unpriced") in page
    assert "gpt-4.1-mini" in page and "claude-sonnet-4" in page
    filtered = admin_client.get(url, {"provider": "anthropic"}).content.decode()
    assert "claude-sonnet-4" in filtered and "gpt-4.1-mini" not in filtered
    searched = admin_client.get(url, {"q": "sonnet"}).content.decode()
    assert "claude-sonnet-4" in searched and "gpt-4.1-mini" not in searched


def test_model_price_can_be_added_and_refuses_negative_prices(admin_client):
    url = reverse("admin:usage_modelprice_add")
    data = {"provider": "openai", "model": "gpt-4.1", "input_per_million": "2",
            "output_per_million": "8", "per_call": "0", "effective_from_0": "2026-01-01",
            "effective_from_1": "00:00:00"}
    assert admin_client.post(url, {**data, "per_call": "-1"}).status_code == 200
    assert not ModelPrice.objects.exists()
    assert admin_client.post(url, data).status_code == 302
    assert ModelPrice.objects.get().output_per_million == 8


def test_unpriced_models_page_lists_models_with_event_counts(admin_client):
    CustomerFactory(external_id="acme")
    CustomerFactory(external_id="globex")
    ModelPriceFactory(model="gpt-4.1-mini")
    ingest_events(events=[ai_call("1", "llama-3-70b"), ai_call("2", "llama-3-70b"),
                          ai_call("3", "llama-3-70b", customer="globex"),
                          ai_call("4", "mistral-large"), ai_call("5", "gpt-4.1-mini")], now=NOW)
    response = admin_client.get(reverse("admin:usage_modelprice_unpriced"))
    assert response.status_code == 200
    rows = [(r["model"], r["events"], r["customers"]) for r in response.context["rows"]]
    assert rows == [("llama-3-70b", 3, 2), ("mistral-large", 1, 1)]
    page = response.content.decode()
    assert "llama-3-70b" in page and "gpt-4.1-mini" not in page
    assert f'{reverse("admin:usage_modelprice_add")}?model=llama-3-70b' in page


def test_unpriced_models_page_needs_view_permission(client, django_user_model):
    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:usage_modelprice_unpriced")).status_code == 403
