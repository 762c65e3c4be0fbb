"""Writes for metrics, plans and plan versions (charges are nested in the version)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from common.bounds import date_in_range_error
from common.currencies import is_supported
from plans.charge_rules import TIERED, clean_charge, filters_error, nonnegative_number
from plans.models import Charge, ChargeTier, Metric, Plan, PlanVersion, PublishedVersionError
from plans.periods import INTERVALS
from plans.selectors import metric_published_versions

VERSION_FIELDS = {"effective_from", "currency", "billing_interval", "seat_price", "base_fee"}
METRIC_DEFINITION_FIELDS = {"event_type", "aggregation", "field", "filters"}
# Labels for people: they change nothing that is billed, so they may change at any time.
METRIC_LABEL_FIELDS = {"name", "description"}


class MetricPricedError(ValidationError):
    """A metric's rule cannot change while a published version prices it (the API's 409)."""


def _validate_metric_definition(*, aggregation: str, field: str, filters: Any) -> None:
    errors: dict[str, list[str]] = {}
    if aggregation not in Metric.Aggregation.values:
        errors["aggregation"] = [f"aggregation must be one of {', '.join(Metric.Aggregation.values)}."]
    elif aggregation == Metric.Aggregation.COUNT and field:
        errors["field"] = ["count metrics take no field."]
    elif aggregation != Metric.Aggregation.COUNT and not field:
        errors["field"] = [f"{aggregation} metrics need the property to aggregate."]
    if (message := filters_error(filters)) is not None:
        errors["filters"] = [message]
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def metric_create(*, code: str, name: str, event_type: str, aggregation: str,
                  field: str = "", filters: dict | None = None, description: str = "") -> Metric:
    filters = {} if filters is None else filters
    _validate_metric_definition(aggregation=aggregation, field=field, filters=filters)
    metric = Metric(code=code, name=name, description=description, event_type=event_type,
                    aggregation=aggregation, field=field or "", filters=filters)
    metric.full_clean()
    try:
        with transaction.atomic():
            metric.save()
    except IntegrityError:
        raise ValidationError({"code": [f"A metric with code {code!r} already exists."]}) from None
    return metric


@transaction.atomic
def plan_create(*, code: str, name: str, description: str = "") -> Plan:
    plan = Plan(code=code, name=name, description=description)
    plan.full_clean()
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:
        raise ValidationError({"code": [f"A plan with code {code!r} already exists."]}) from None
    return plan


def validate_charges(charges: Any) -> list[dict]:
    """Check nested charge specs; errors are keyed like ``charges[1].tiers[0].up_to``.

    The price shape is ``plans.charge_rules``' (shared with the admin and the engine);
    this adds what needs the database: the metric each charge prices.
    """
    if charges is None:
        return []
    if not isinstance(charges, list):
        raise ValidationError({"charges": ["charges must be a list."]})
    errors: dict[str, list[str]] = {}
    cleaned: list[dict] = []
    metrics = {m.code: m for m in Metric.objects.filter(
        code__in=[c.get("metric") for c in charges if isinstance(c, dict)]
    )}
    for index, spec in enumerate(charges):
        prefix = f"charges[{index}]"
        if not isinstance(spec, dict):
            errors[prefix] = ["Each charge is an object."]
            continue
        metric = metrics.get(spec.get("metric"))
        if metric is None:
            errors[f"{prefix}.metric"] = [f"Unknown metric {spec.get('metric')!r}."]
        prices, price_errors = clean_charge(spec)
        errors |= {f"{prefix}.{name}": messages for name, messages in price_errors.items()}
        filters = spec.get("filters") or {}
        if (message := filters_error(filters)) is not None:
            errors[f"{prefix}.filters"] = [message]
        cleaned.append({"position": index, "metric": metric, **prices, "filters": filters})
    if errors:
        raise ValidationError(errors)
    return cleaned


def _validate_version_fields(fields: dict) -> None:
    errors: dict[str, list[str]] = {}
    if "currency" in fields and not is_supported(fields["currency"]):
        errors["currency"] = [f"Unsupported currency {fields['currency']!r}; use ISO 4217."]
    if "billing_interval" in fields and fields["billing_interval"] not in INTERVALS:
        errors["billing_interval"] = [f"billing_interval must be one of {', '.join(INTERVALS)}."]
    for name in ("seat_price", "base_fee"):
        if name in fields:
            fields[name] = nonnegative_number(fields[name], name, errors, required=True)
    if "effective_from" in fields and not isinstance(fields["effective_from"], dt.date):
        errors["effective_from"] = ["A date (YYYY-MM-DD) is required."]
    elif "effective_from" in fields and (message := date_in_range_error(fields["effective_from"])):
        errors["effective_from"] = [message]
    if errors:
        raise ValidationError(errors)


def _write_charges(version: PlanVersion, charges: list[dict]) -> None:
    for spec in charges:
        tiers = spec.pop("tiers")
        charge = Charge.objects.create(plan_version=version, **spec)
        for tier in tiers:
            ChargeTier.objects.create(charge=charge, **tier)


@transaction.atomic
def plan_version_create(*, plan: Plan, effective_from: dt.date, currency: str = "USD",
                        billing_interval: str = PlanVersion.Interval.MONTH, seat_price: Any = 0, base_fee: Any = 0,
                        charges: list[dict] | None = None) -> PlanVersion:
    fields = {"effective_from": effective_from, "currency": currency,
              "billing_interval": billing_interval, "seat_price": seat_price, "base_fee": base_fee}
    _validate_version_fields(fields)
    cleaned = validate_charges(charges)
    # Lock the plan so two concurrent creates cannot pick the same version number.
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    number = (plan.versions.aggregate(n=Max("version"))["n"] or 0) + 1
    version = PlanVersion.objects.create(plan=plan, version=number, **fields)
    _write_charges(version, cleaned)
    return version


@transaction.atomic
def plan_version_update(*, version: PlanVersion, charges: list[dict] | None = None,
                        **changes: Any) -> PlanVersion:
    """Change a draft version; ``charges``, when given, replaces all of its charges."""
    version = PlanVersion.objects.select_for_update().select_related("plan").get(pk=version.pk)
    if version.is_published:
        raise PublishedVersionError(version)
    unknown = set(changes) - VERSION_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    _validate_version_fields(changes)
    for name, value in changes.items():
        setattr(version, name, value)
    version.save()
    if charges is not None:
        cleaned = validate_charges(charges)
        version.charges.all().delete()
        _write_charges(version, cleaned)
    return version


@transaction.atomic
def plan_version_publish(*, version: PlanVersion, now: dt.datetime) -> PlanVersion:
    version = PlanVersion.objects.select_for_update().select_related("plan").get(pk=version.pk)
    if version.is_published:
        raise PublishedVersionError(version)
    # Lock the metrics it prices: metric_update holds the same lock while it checks that no
    # published version prices the metric, so a rule cannot change as it gets published.
    list(Metric.objects.select_for_update().filter(pk__in=version.charges.values("metric_id")))
    if version.seat_price == 0 and not version.charges.exists() and version.base_fee == 0:
        raise ValidationError(
            {"charges": ["A version needs a seat price, a base fee or at least one charge."]}
        )
    # Drafts edited row by row (the admin) skip the nested check the API does on write;
    # publishing is the gate every path goes through, so the full check happens here.
    validate_charges(charge_specs(version=version))
    version.status = PlanVersion.Status.PUBLISHED
    version.published_at = now
    version.save(update_fields=["status", "published_at"])
    return version


@transaction.atomic
def metric_update(*, metric: Metric, **changes: Any) -> Metric:
    """Relabel a metric (name, description) at any time; change its rule (event_type,
    aggregation, field, filters) only while no published version prices it, else
    ``MetricPricedError`` naming each field that would change."""
    unknown = set(changes) - METRIC_DEFINITION_FIELDS - METRIC_LABEL_FIELDS
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in unknown})
    if "field" in changes:
        changes["field"] = changes["field"] or ""  # none and "" both mean "no property"
    metric = Metric.objects.select_for_update().get(pk=metric.pk)
    redefined = sorted(
        name for name in METRIC_DEFINITION_FIELDS & set(changes)
        if changes[name] != getattr(metric, name)
    )
    if redefined:
        used_by = list(metric_published_versions(metric=metric)[:3])
        if used_by:
            names = ", ".join(str(v) for v in used_by)
            raise MetricPricedError({name: [
                f"{name} cannot change: {metric.code} is priced by published versions "
                f"({names}). Create a new metric instead of changing what this one counts."
            ] for name in redefined})
    for name, value in changes.items():
        setattr(metric, name, value)
    _validate_metric_definition(aggregation=metric.aggregation, field=metric.field,
                                filters=metric.filters)
    metric.full_clean()
    metric.save()
    return metric


def charge_specs(*, version: PlanVersion) -> list[dict]:
    """A version's stored charges in the nested shape ``validate_charges`` reads."""
    specs = []
    for charge in version.charges.select_related("metric").prefetch_related("tiers"):
        spec = {
            "metric": charge.metric.code, "model": charge.model, "unit_price": charge.unit_price,
            "package_size": charge.package_size, "package_price": charge.package_price,
            "included_units": charge.included_units, "included_per_seat": charge.included_per_seat,
            "filters": charge.filters,
        }
        tiers = [{"up_to": t.up_to, "unit_price": t.unit_price, "flat_fee": t.flat_fee}
                 for t in charge.tiers.all()]
        if tiers or charge.model in TIERED:
            spec["tiers"] = tiers
        specs.append(spec)
    return specs


@transaction.atomic
def plan_version_copy(*, version: PlanVersion, effective_from: dt.date | None = None) -> PlanVersion:
    """A new draft of the same plan with ``version``'s prices and charges, to edit and publish.

    ``effective_from`` defaults to the source's; set it before publishing.
    """
    return plan_version_create(
        plan=version.plan,
        effective_from=effective_from or version.effective_from,
        currency=version.currency,
        billing_interval=version.billing_interval,
        seat_price=version.seat_price,
        base_fee=version.base_fee,
        charges=charge_specs(version=version),
    )
