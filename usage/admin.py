"""Ops admin for provider prices, and the list of models that events named without a price.

Events themselves are not a ModelAdmin: Django's admin cannot address rows of a composite
primary key. The unpriced list is a custom view hung off the ModelPrice admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path

from common.display import money_column
from usage.models import ModelPrice
from usage.pricing import unpriced_model_counts

PRICE_FIELDS = ("input_per_million", "output_per_million", "per_call")


class ModelPriceForm(forms.ModelForm):
    class Meta:
        model = ModelPrice
        fields = ["provider", "model", *PRICE_FIELDS, "effective_from"]
        help_texts = {"effective_from": "Events from this instant on (UTC) are costed at this "
                                        "price; events already stored keep their cost."}

    def clean(self):
        cleaned = super().clean()
        for name in PRICE_FIELDS:
            value = cleaned.get(name)
            if value is not None and value < 0:
                self.add_error(name, "A price cannot be negative.")
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    form = ModelPriceForm
    list_display = ("model", "provider", "input_per_million_", "output_per_million_",
                    "per_call_", "effective_from")
    # For people: USD with 2 places, more only where a price has them (not 0.4000000000).
    input_per_million_ = money_column("input_per_million", "input per 1M tokens (USD)",
                                      currency=None)
    output_per_million_ = money_column("output_per_million", "output per 1M tokens (USD)",
                                       currency=None)
    per_call_ = money_column("per_call", "per call (USD)", currency=None)
    list_filter = ("provider",)
    search_fields = ("model",)
    date_hierarchy = "effective_from"
    change_list_template = "admin/usage/modelprice/change_list.html"

    def get_urls(self):
        unpriced = path("unpriced/", self.admin_site.admin_view(self.unpriced_view),
                        name="usage_modelprice_unpriced")
        return [unpriced, *super().get_urls()]

    def unpriced_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Unpriced models",
            "opts": self.model._meta,
            "rows": unpriced_model_counts(),
            "can_add": self.has_add_permission(request),
        }
        return TemplateResponse(request, "admin/usage/unpriced_models.html", context)
