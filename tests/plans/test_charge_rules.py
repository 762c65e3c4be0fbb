"""One set of price-shape rules for a charge: the API's service, the admin and the engine."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from invoices.rating import ChargeTerms, Tier
from plans.charge_rules import ChargeModel, charge_errors, clean_charge, filters_error
from plans.models import Charge
from plans.services.catalog import validate_charges
from tests.factories import MetricFactory


def tiers(*bounds):
    return [{"up_to": bound, "unit_price": "0.1"} for bound in bounds]


# Each bad charge and the one field its error is on.
BAD = [
    ({"model": "flat"}, "model"),
    ({"model": None}, "model"),
    ({"model": "per_unit"}, "unit_price"),
    ({"model": "per_unit", "unit_price": "-1"}, "unit_price"),
    ({"model": "per_unit", "unit_price": "cheap"}, "unit_price"),
    ({"model": "per_unit", "unit_price": "NaN"}, "unit_price"),
    ({"model": "per_unit", "unit_price": "1", "included_units": "-5"}, "included_units"),
    ({"model": "per_unit", "unit_price": "1", "included_per_seat": "x"}, "included_per_seat"),
    ({"model": "per_unit", "unit_price": "1", "tiers": tiers(None)}, "tiers"),
    ({"model": "package", "package_price": "5"}, "package_size"),
    ({"model": "package", "package_size": 0, "package_price": "5"}, "package_size"),
    ({"model": "package", "package_size": True, "package_price": "5"}, "package_size"),
    ({"model": "package", "package_size": 2.5, "package_price": "5"}, "package_size"),
    ({"model": "package", "package_size": 10**9 + 1, "package_price": "5"}, "package_size"),
    ({"model": "package", "package_size": 10}, "package_price"),
    ({"model": "graduated"}, "tiers"),
    ({"model": "volume", "tiers": []}, "tiers"),
    ({"model": "volume", "tiers": "100"}, "tiers"),
    ({"model": "volume", "tiers": ["100"]}, "tiers[0]"),
    ({"model": "graduated", "tiers": tiers(100)}, "tiers[0].up_to"),
    ({"model": "graduated", "tiers": tiers(None, None)}, "tiers[0].up_to"),
    ({"model": "graduated", "tiers": tiers(100, 50, None)}, "tiers[1].up_to"),
    ({"model": "graduated", "tiers": tiers(100, 100, None)}, "tiers[1].up_to"),
    ({"model": "volume", "tiers": tiers(0, None)}, "tiers[0].up_to"),
    ({"model": "volume", "tiers": [{"up_to": None, "unit_price": "-0.1"}]},
     "tiers[0].unit_price"),
    ({"model": "volume", "tiers": [{"up_to": None, "flat_fee": "free"}]}, "tiers[0].flat_fee"),
]


@pytest.mark.parametrize(("spec", "field"), BAD)
def test_a_bad_charge_is_refused_on_the_field_at_fault(spec, field):
    assert list(charge_errors(spec)) == [field]


@pytest.mark.parametrize(
    "spec",
    [
        {"model": "per_unit", "unit_price": "0.05", "included_per_seat": 1000},
        {"model": "package", "package_size": 100, "package_price": "5.00"},
        {"model": "graduated", "tiers": tiers(1000, None)},
        {"model": "volume", "tiers": [{"up_to": D(10), "unit_price": D(1), "flat_fee": D(5)},
                                      {"up_to": None, "unit_price": D("0.5")}]},
    ],
)
def test_a_good_charge_has_no_errors(spec):
    assert charge_errors(spec) == {}


def test_clean_charge_reads_numbers_as_decimals_and_numbers_the_tiers():
    cleaned, errors = clean_charge({"model": "graduated", "included_units": 10,
                                    "tiers": [{"up_to": "100", "unit_price": "0.02"},
                                              {"up_to": None, "unit_price": 0.01}]})

    assert errors == {}
    assert cleaned["included_units"] == D(10)
    assert cleaned["tiers"] == [
        {"position": 0, "up_to": D(100), "unit_price": D("0.02"), "flat_fee": D(0)},
        {"position": 1, "up_to": None, "unit_price": D("0.01"), "flat_fee": D(0)},
    ]


def test_only_package_charges_keep_a_package_size():
    cleaned, _ = clean_charge({"model": "per_unit", "unit_price": "1", "package_size": 10})
    assert cleaned["package_size"] is None


def test_the_models_charges_store_are_the_rules_models():
    assert Charge.Model.values == [model.value for model in ChargeModel]


@pytest.mark.parametrize(
    ("filters", "refused"),
    [({"latency_tier": "batch"}, False), ({}, False), ([], True), ({"": 1}, True),
     ({"tier": ["a"]}, True), ({"tier": None}, True)],
)
def test_filters_are_an_object_of_scalar_values(filters, refused):
    assert (filters_error(filters) is not None) is refused


# --- the three callers agree --------------------------------------------------------------


def _terms(spec: dict) -> ChargeTerms:
    return ChargeTerms(
        "key", "tasks", spec.get("model"),
        unit_price=spec.get("unit_price"), package_size=spec.get("package_size"),
        package_price=spec.get("package_price"),
        tiers=tuple(Tier(t.get("up_to"), t.get("unit_price", D(0)), t.get("flat_fee", D(0)))
                    for t in spec.get("tiers") or () if isinstance(t, dict)),
        included_units=spec.get("included_units", D(0)),
        included_per_seat=spec.get("included_per_seat"),
    )


STORABLE = [(spec, field) for spec, field in BAD if field != "tiers[0]"
            and not isinstance(spec.get("tiers"), str)]


@pytest.mark.parametrize(("spec", "field"), STORABLE)
def test_the_engine_refuses_a_price_book_charge_the_rules_refuse(spec, field):
    with pytest.raises(ValueError, match=re.escape(f"charge 'key': {field}: ")):
        _terms(spec)


@pytest.mark.django_db
@pytest.mark.parametrize(("spec", "field"), BAD)
def test_the_service_names_each_rule_error_under_its_charge(spec, field):
    MetricFactory(code="tasks")
    with pytest.raises(ValidationError) as refused:
        validate_charges([{"metric": "tasks", "model": "per_unit", "unit_price": "1"},
                          {"metric": "tasks", **spec}])
    assert list(refused.value.error_dict) == [f"charges[1].{field}"]
