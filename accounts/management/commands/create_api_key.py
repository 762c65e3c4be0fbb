"""``manage.py create_api_key --name NAME --scope admin|ingest`` (or ``--revoke PREFIX``).

The new key is printed alone on the last line so scripts can take it with ``tail -n 1``;
only its SHA-256 and prefix are stored, so it cannot be shown again.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ApiKey
from accounts.selectors import api_key_get
from accounts.services import api_key_create, api_key_revoke


class Command(BaseCommand):
    help = "Create an API key (printed once, on the last line) or revoke one by its prefix."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="What the key is for, e.g. 'ingest from prod'.")
        parser.add_argument("--scope", choices=ApiKey.Scope.values,
                            help="admin: every route; ingest: POST /events only.")
        parser.add_argument("--revoke", metavar="PREFIX",
                            help="Revoke the key with this prefix instead of creating one.")

    def handle(self, *args, name=None, scope=None, revoke=None, **options):
        if revoke:
            if name or scope:
                raise CommandError("--revoke takes no --name or --scope.")
            self._revoke(revoke)
            return
        if not name or not scope:
            raise CommandError("Give --name and --scope (admin or ingest), or --revoke PREFIX.")
        try:
            key, raw_key = api_key_create(name=name, scope=scope)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created {key.scope} key {key.name!r} (prefix {key.prefix}).")
        self.stdout.write("It is shown only this once; store it now:")
        self.stdout.write(raw_key)

    def _revoke(self, prefix: str) -> None:
        key = api_key_get(prefix=prefix)
        if key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        was_active = key.is_active
        api_key_revoke(key=key, now=timezone.now())
        state = "Revoked" if was_active else "Already revoked:"
        self.stdout.write(f"{state} {key.scope} key {key.name!r} (prefix {prefix}).")
