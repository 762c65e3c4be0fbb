import pytest

from plans.models import Charge, ChargeTier, PlanVersion, PublishedVersionError
from tests.factories import MetricFactory, make_version

pytestmark = pytest.mark.django_db


def test_published_version_refuses_save():
    version = make_version()
    version.seat_price = "99"
    with pytest.raises(PublishedVersionError):
        version.save()


def test_published_version_refuses_queryset_update_and_delete():
    version = make_version()
    with pytest.raises(PublishedVersionError):
        PlanVersion.objects.filter(pk=version.pk).update(seat_price=1)
    with pytest.raises(PublishedVersionError):
        PlanVersion.objects.filter(pk=version.pk).delete()


def test_published_version_charges_and_tiers_are_frozen():
    MetricFactory(code="tokens", event_type="ai.call", aggregation="sum", field="total_tokens")
    version = make_version(charges=[{"metric": "tokens", "model": "graduated", "tiers": [
        {"up_to": 100, "unit_price": "0.1"}, {"up_to": None, "unit_price": "0.05"}]}])
    charge = version.charges.get()
    charge.unit_price = 5
    with pytest.raises(PublishedVersionError):
        charge.save()
    with pytest.raises(PublishedVersionError):
        Charge.objects.filter(pk=charge.pk).update(included_units=10)
    tier = charge.tiers.first()
    tier.unit_price = 1
    with pytest.raises(PublishedVersionError):
        tier.save()
    with pytest.raises(PublishedVersionError):
        ChargeTier.objects.filter(charge=charge).delete()
    with pytest.raises(PublishedVersionError):
        Charge.objects.create(plan_version=version, metric=charge.metric, model="per_unit", unit_price=1)


def test_draft_version_can_change():
    version = make_version(publish=False)
    version.seat_price = "99"
    version.save()
    version.refresh_from_db()
    assert str(version.seat_price) == "99.0000000000"
