"""Forms of the lab's admin pages (archetypes, estimates, migration planning): the same bounds as the API's inputs
(``invoices.lab.api.pricing_serializers``), read from the query string or a POST."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from common.bounds import MAX_NOTICE_DAYS
from common.currencies import CURRENCY_CHOICES
from common.display import money_text
from invoices.lab.customer_periods import MAX_PERIODS
from invoices.lab.pricing_selectors import Settings
from invoices.lab.recommendations import DEFAULT_PERCENTILE, DEFAULT_SHARE, DEFAULT_TARGET_MARGIN
from plans.models import Metric, Plan, PlanVersion
from plans.models.contracts import DEFAULT_NOTICE_DAYS
from usage.models import ModelPrice

MAX_MARGIN = Decimal("0.99")
MAX_ESTIMATE = Decimal(10) ** 9


def _margin_field() -> forms.DecimalField:
    return forms.DecimalField(min_value=0, max_value=MAX_MARGIN, max_digits=5, decimal_places=4,
                              initial=DEFAULT_TARGET_MARGIN, label="Target gross margin",
                              help_text="0 to 0.99; seat price = cost / (1 − margin).")


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Plan) -> str:
        return f"{obj.code} — {obj.name}"


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PlanVersion) -> str:
        price = money_text(obj.seat_price, obj.currency, code=True)
        return f"{obj.plan.code} v{obj.version} ({obj.status}, {price} a seat)"


def _versions():
    return PlanVersion.objects.select_related("plan").order_by("plan__code", "version")


class ArchetypeForm(forms.Form):
    plan = PlanChoiceField(queryset=Plan.objects.order_by("code"), to_field_name="code")
    periods = forms.IntegerField(min_value=1, max_value=MAX_PERIODS, initial=3,
                                 help_text="Each customer's latest ended periods on the plan.")
    candidate = VersionChoiceField(queryset=_versions(), required=False,
                                   help_text="A version of the plan to price the archetypes on.")
    percentile = forms.IntegerField(min_value=0, max_value=100, initial=DEFAULT_PERCENTILE,
                                    help_text="Of per-seat cost, for the seat price.")
    target_margin = _margin_field()
    share = forms.DecimalField(min_value=Decimal("0.01"), max_value=1, max_digits=5,
                               decimal_places=4, initial=DEFAULT_SHARE,
                               help_text="Of customer-periods each allowance covers.")

    def clean(self) -> dict:
        data = super().clean()
        plan, candidate = data.get("plan"), data.get("candidate")
        if plan is not None and candidate is not None and candidate.plan_id != plan.pk:
            self.add_error("candidate", f"Choose a version of {plan.code}.")
        return data

    def settings(self) -> Settings:
        data = self.cleaned_data
        return Settings(percentile=data["percentile"], target_margin=data["target_margin"],
                        share=data["share"])


def initial_or_bound(form_class: type[forms.Form], query) -> forms.Form:
    """A form bound to the query string when it has any field of the form, with the
    initial values filling what it leaves out; else unbound."""
    if not any(name in query for name in form_class.base_fields):
        return form_class()
    data = {name: field.initial for name, field in form_class.base_fields.items()
            if field.initial is not None}
    data.update({name: query.get(name) for name in form_class.base_fields if name in query})
    return form_class(data)


def _model_choices() -> list[tuple[str, str]]:
    pairs = ModelPrice.objects.order_by("provider", "model").values_list(
        "provider", "model").distinct()
    return [(f"{provider}|{model}", f"{model} ({provider})") for provider, model in pairs]


def _metric_choices() -> list[tuple[str, str]]:
    return [("", "—"), *((m.code, f"{m.code} — {m.name}")
                         for m in Metric.objects.order_by("code"))]


class EstimateForm(forms.Form):
    light = forms.DecimalField(min_value=0, max_value=MAX_ESTIMATE, decimal_places=4,
                               initial=20, label="Light user: actions a month")
    median = forms.DecimalField(min_value=0, max_value=MAX_ESTIMATE, decimal_places=4,
                                initial=60, label="Median user: actions a month")
    heavy = forms.DecimalField(min_value=0, max_value=MAX_ESTIMATE, decimal_places=4,
                               initial=200, label="Heavy user: actions a month")
    tail = forms.DecimalField(min_value=0, max_value=MAX_ESTIMATE, decimal_places=4,
                              initial=600, label="Tail user: actions a month")
    calls_per_action = forms.DecimalField(min_value=0, max_value=Decimal(10) ** 6,
                                          decimal_places=4, initial=4,
                                          label="AI calls per action")
    input_tokens = forms.IntegerField(min_value=0, max_value=10**8, initial=1200,
                                      label="Input tokens per call")
    output_tokens = forms.IntegerField(min_value=0, max_value=10**8, initial=300,
                                       label="Output tokens per call")
    model = forms.ChoiceField(choices=_model_choices, label="Model",
                              help_text="Priced from the provider prices in force today.")
    target_margin = _margin_field()
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES, initial="USD",
                                 help_text="Provider prices are in USD; no conversion is made.")
    plan = VersionChoiceField(queryset=_versions(), required=False, label="Rate on version",
                              help_text="Optional: what each archetype would pay on it.")
    action_metric = forms.ChoiceField(choices=_metric_choices, required=False,
                                      help_text="The metric that counts actions, if any.")
    call_metric = forms.ChoiceField(choices=_metric_choices, required=False,
                                    help_text="The metric that counts AI calls, if any.")
    token_metric = forms.ChoiceField(choices=_metric_choices, required=False,
                                     help_text="The metric that sums tokens, if any.")

    def provider_and_model(self) -> tuple[str, str]:
        provider, _, model = self.cleaned_data["model"].partition("|")
        return provider, model


class MigrationPlanForm(forms.Form):
    plan = PlanChoiceField(queryset=Plan.objects.order_by("code"), to_field_name="code",
                           help_text="Active contracts pinned to a version of this plan.")
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False,
                                 help_text="Only contracts on this version number today.")
    customers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                help_text="Only these customers (external ids, separated by "
                                          "spaces, commas or lines): a segment.")
    target = VersionChoiceField(
        queryset=_versions().filter(status=PlanVersion.Status.PUBLISHED),
        help_text="The published version to move them to.")
    notice_days = forms.IntegerField(min_value=0, max_value=MAX_NOTICE_DAYS,
                                     initial=DEFAULT_NOTICE_DAYS,
                                     help_text="Migrations take effect at the first period "
                                               "start at least this many days from today.")

    def clean_customers(self) -> list[str]:
        text = self.cleaned_data.get("customers") or ""
        if "\x00" in text:
            raise forms.ValidationError("Text may not contain NUL characters.")
        names = [n for n in text.replace(",", " ").split() if n]
        return list(dict.fromkeys(names))

    def clean(self) -> dict:
        data = super().clean()
        plan, target = data.get("plan"), data.get("target")
        if plan is not None and target is not None and target.plan_id != plan.pk:
            self.add_error("target", f"Choose a version of {plan.code}.")
        return data
