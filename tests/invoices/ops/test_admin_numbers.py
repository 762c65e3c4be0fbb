"""Admin lists and pages show money in the currency's minor unit and quantities without
the padding of their columns (160.00, never 160.0000000000)."""

from __future__ import annotations

import pytest

from tests.factories import ModelPriceFactory
from tests.invoices.billing_fixtures import team_version, worked_example

pytestmark = pytest.mark.django_db

PADDED = "0000000"


@pytest.fixture
def priced(db):
    version = team_version(seat_price="160.00")
    contract = worked_example(external_id="big", version=version, tasks=0)
    ModelPriceFactory()
    return version, contract


@pytest.mark.parametrize("url", [
    "/admin/plans/planversion/",
    "/admin/plans/contract/",
    "/admin/accounts/customer/",
    "/admin/usage/modelprice/",
    "/admin/plans/charge/",
])
def test_lists_show_no_column_padding(admin_client, priced, url):
    html = admin_client.get(url).content.decode()
    assert PADDED not in html


def test_plan_version_list_and_page_show_160_00(admin_client, priced):
    version, _ = priced
    listing = admin_client.get("/admin/plans/planversion/").content.decode()
    page = admin_client.get(f"/admin/plans/planversion/{version.pk}/change/").content.decode()
    assert "160.00" in listing and "160.00" in page
    assert PADDED not in page


def test_model_prices_in_dollars_and_cents(admin_client, priced):
    html = admin_client.get("/admin/usage/modelprice/").content.decode()
    assert ">0.40<" in html and ">1.60<" in html


def test_contract_page_shows_negotiated_terms_unpadded(admin_client, priced):
    _, contract = priced
    html = admin_client.get(f"/admin/plans/contract/{contract.pk}/change/").content.decode()
    assert "160.00" in html and PADDED not in html
