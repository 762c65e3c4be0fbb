"""Admin forms and inlines that save through a service, for every app's admin.

Forms validate by running the service in a savepoint that is always rolled back ("dry
run"), so a service's ValidationError lands on the form field it names instead of
surfacing as a 500 after the admin has already decided the form was valid;
``save_model`` then runs the service for real. The admin cannot bypass a rule the API
enforces, because both call the same service.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction
from django.forms.models import BaseInlineFormSet


class _Rollback(Exception):
    """Raised inside a savepoint to undo a dry run."""


def dry_run(service: Callable[..., Any], /, **kwargs: Any) -> None:
    """Call ``service`` in a savepoint that is always rolled back; its ValidationError escapes."""
    try:
        with transaction.atomic():
            service(**kwargs)
            raise _Rollback
    except _Rollback:
        pass


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the named form fields, the rest on the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, errors in error.error_dict.items():
        messages_ = ValidationError(errors).messages
        if name in form.fields and not form.fields[name].disabled:
            form.add_error(name, messages_)
        elif name in ("__all__", "non_field_errors"):
            form.add_error(None, messages_)
        else:
            form.add_error(None, [f"{name}: {message}" for message in messages_])


def adopt(target: models.Model, source: models.Model) -> None:
    """Copy a saved row's fields onto the instance the admin keeps using after save_model."""
    for field in target._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class ServiceModelForm(forms.ModelForm):
    """A ModelForm saved by a service (``service_call``), which also validates it first."""

    def service_call(self) -> models.Model:
        raise NotImplementedError

    @property
    def adding(self) -> bool:
        return self.instance._state.adding

    def changes(self, allowed: set[str] | frozenset[str]) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in allowed}

    @property
    def unchanged(self) -> bool:
        # e.g. only an inline changed: no write, so no empty entry in the history either
        return not self.adding and not self.has_changed()

    def _post_clean(self) -> None:
        super()._post_clean()  # field and model validation first: their messages are better
        if self.errors or self.unchanged:
            return
        try:
            dry_run(self.service_call)
        except ValidationError as error:
            add_service_errors(self, error)

    def save_via_service(self) -> models.Model:
        if not self.unchanged:
            adopt(self.instance, self.service_call())
        return self.instance


class ServiceAdminMixin:
    """save_model hands the form to its service instead of calling ``obj.save()``."""

    def save_model(self, request, obj, form, change):
        form.save_via_service()


class ServiceInlineFormSet(BaseInlineFormSet):
    """Inline rows written by services. ``write(form, parent)`` returns the saved row.

    ``clean`` dry-runs every changed row in one rolled-back savepoint (rows in order, so
    rows that interact, like a seat ending and its successor, are checked together);
    ``save`` writes them for real and records what changed for the admin's log.
    """

    def write(self, form: forms.ModelForm, parent: models.Model) -> models.Model:
        raise NotImplementedError

    def rows_to_write(self) -> list[forms.ModelForm]:
        rows = [form for form in self.forms
                if form.has_changed() and not self._should_delete_form(form)]
        # Existing rows first: shortening a seat must land before the one that follows it.
        return sorted(rows, key=lambda form: form.instance.pk is None)

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rows = self.rows_to_write()
        if not rows:
            return
        try:
            with transaction.atomic():
                parent = self.instance
                if parent.pk is None:
                    # A parent being added: save a throwaway copy so the rows have one.
                    parent = copy.copy(parent)
                    try:
                        with transaction.atomic():
                            parent.save()
                    except (DatabaseError, ValueError):
                        raise _Rollback from None  # the parent form reports its own errors
                for form in rows:
                    try:
                        with transaction.atomic():
                            self.write(form, parent)
                    except ValidationError as error:
                        add_service_errors(form, error)
                raise _Rollback
        except _Rollback:
            pass

    def save(self, commit: bool = True) -> list[models.Model]:
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        for form in self.rows_to_write():
            new = form.instance.pk is None
            saved = self.write(form, self.instance)
            adopt(form.instance, saved)
            if new:
                self.new_objects.append(form.instance)
            else:
                self.changed_objects.append((form.instance, form.changed_data))
        return [*self.new_objects, *(obj for obj, _ in self.changed_objects)]
