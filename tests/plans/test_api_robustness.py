"""Whatever JSON arrives, the answer is a 2xx or a 4xx naming a field, never a 500."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans.api.serializers import PlanChargeWriteSerializer, PlanTierWriteSerializer
from plans.models import Contract
from tests.factories import CustomerFactory, MetricFactory, PlanFactory, make_version

pytestmark = pytest.mark.django_db

CHARGE_KEYS = sorted(PlanChargeWriteSerializer().fields)
TIER_KEYS = sorted(PlanTierWriteSerializer().fields)
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
tricky = st.sampled_from(["tasks", "per_unit", "graduated", "package", "volume", "1e30", "NaN",
                          "Infinity", "0.05", "-1", "0.00000000001", "1e25", "2026-10-01",
                          "team", "\x00", "acme", "USD"])
scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40)
           | st.floats(allow_nan=False, allow_infinity=False) | text | tricky)
json_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=3)
    | st.dictionaries(text, children, max_size=3), max_leaves=6,
)
tier = st.dictionaries(st.sampled_from(TIER_KEYS) | text, json_values, max_size=4)
charge = st.dictionaries(
    st.sampled_from(CHARGE_KEYS) | text,
    json_values | st.lists(tier | json_values, max_size=3), max_size=6,
)
version_keys = ["effective_from", "currency", "billing_interval", "seat_price", "base_fee"]
contract_keys = ["customer", "plan", "plan_version", "start_date", "end_date", "auto_renew",
                 "renewal", "committed_seats", "seat_price", "base_fee", "included_per_seat",
                 "discount_percent", "overage_cap", "minimum_commitment"]


def assert_no_server_error(response) -> None:
    assert response.status_code < 500, response.content
    if response.status_code == 400:
        assert response.json()["errors"]


@pytest.fixture
def catalog():
    MetricFactory(code="tasks")
    team = PlanFactory(code="team")
    make_version(plan=team, effective_from=dt.date(2026, 1, 1))
    CustomerFactory(external_id="acme")
    return team


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(version_keys), json_values | tricky),
       charges=st.lists(charge | json_values, max_size=3) | json_values)
def test_any_version_body_is_answered_without_a_server_error(api, catalog, fields, charges):
    body = {"effective_from": "2026-10-01", **fields, "charges": charges}
    assert_no_server_error(api.post("/api/v1/plans/team/versions", body, format="json"))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(contract_keys), json_values | tricky))
def test_any_contract_body_is_answered_without_a_server_error(api, catalog, fields):
    body = {"customer": "acme", "plan": "team", "start_date": "2026-10-01", **fields}
    response = api.post("/api/v1/contracts", body, format="json")
    assert_no_server_error(response)
    if response.status_code == 201:  # make room for the next example
        Contract.objects.filter(pk=response.json()["id"]).update(status="ended")


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["code", "name", "event_type", "aggregation",
                                               "field", "filters"]), json_values | tricky))
def test_any_metric_body_is_answered_without_a_server_error(api, fields):
    assert_no_server_error(api.post("/api/v1/metrics", fields, format="json"))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/%00", "/api/v1/customers?search=%00", "/api/v1/contracts?customer=%00",
        "/api/v1/plans/%00", "/api/v1/metrics/%00", "/api/v1/plans/team/versions/99999999999",
        "/api/v1/contracts/99999999999999999999", "/api/v1/customers/acme/seats/99999999999999999999",
    ],
)
def test_odd_paths_and_queries_are_404_or_400(api, catalog, path):
    assert api.get(path).status_code in (400, 404)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/metrics", {"code": "x", "name": "X", "event_type": "e", "aggregation": "count",
                             "filters": {"tier": "\x00"}}, "filters"),
        ("/api/v1/plans/team/versions", {"effective_from": "2026-10-01", "charges": [
            {"metric": "tasks", "model": "per_unit", "unit_price": "1",
             "filters": {"\x00": "a"}}]}, "charges"),
        ("/api/v1/customers", {"external_id": "x", "name": "A\x00", "email": "a@b.test"}, "name"),
        ("/api/v1/contracts", {"customer": "acme\x00", "plan": "team",
                               "start_date": "2026-10-01"}, "customer"),
    ],
)
def test_text_with_nul_is_refused_naming_the_field(api, catalog, path, body, field):
    response = api.post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit_price": "1e30"}, "charges[0].unit_price"),
        ({"unit_price": "0.00000000001"}, "charges[0].unit_price"),
        ({"included_units": "1e25"}, "charges[0].included_units"),
        ({"metric": {"code": "tasks"}}, "charges[0].metric"),
        ({"model": ["per_unit"]}, "charges[0].model"),
        ({"model": "package", "package_size": 10**30, "package_price": "1"},
         "charges[0].package_size"),
    ],
)
def test_charge_values_that_cannot_be_stored_are_refused(api, catalog, body, field):
    charge = {"metric": "tasks", "model": "per_unit", "unit_price": "1", **body}
    response = api.post("/api/v1/plans/team/versions",
                        {"effective_from": "2026-10-01", "charges": [charge]}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
