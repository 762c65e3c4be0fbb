"""Ops unlock for the login lockout: axes' *Access attempts* list with an Unlock action.

Imported by ``accounts.admin``. axes registers its own admin for AccessAttempt when its
admin module is imported; this replaces that one registration with a subclass.
"""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages

from accounts.lockout import login_attempts_unlock


class LoginAttemptAdmin(AccessAttemptAdmin):
    actions = [*AccessAttemptAdmin.actions, "unlock"]

    @admin.action(description="Unlock: forget these failed logins so they may log in again",
                  permissions=["delete"])
    def unlock(self, request, queryset):
        attempts = list(queryset)
        count = login_attempts_unlock(attempt_ids=[attempt.pk for attempt in attempts])
        pairs = ", ".join(sorted({f"{a.username} from {a.ip_address}" for a in attempts}))
        self.message_user(request, f"Unlocked {count} login record(s): {pairs}.", messages.SUCCESS)


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, LoginAttemptAdmin)
