"""Bearer API keys: ``Authorization: Bearer <key>``.

A missing or wrong key is a 401; a valid key of the wrong scope is a 403.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts.models import ApiKey
from accounts.services import api_key_authenticate


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if len(parts) != 2 or parts[0] != self.keyword:
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = api_key_authenticate(raw_key=parts[1], now=timezone.now())
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return (None, key)

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when the key is missing or wrong.
        return 'Bearer realm="api"'


class _HasScope(permissions.BasePermission):
    scopes: tuple[str, ...] = ()
    # Read by the schema (common.api.schema): a 403 is documented when a scope is missing.
    every_scope: ClassVar[tuple[str, ...]] = tuple(ApiKey.Scope.values)
    # The rate budget of routes with this permission (common.api.throttles).
    throttle_bucket: ClassVar[str] = "admin"

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated("An API key is required: 'Authorization: Bearer <key>'.")
        if key.scope not in self.scopes:
            self.message = f"A {key.scope}-scope key cannot use this route; it needs an admin key."
            return False
        return True


class HasAdminScope(_HasScope):
    scopes = (ApiKey.Scope.ADMIN,)


class HasIngestScope(_HasScope):
    scopes = (ApiKey.Scope.ADMIN, ApiKey.Scope.INGEST)
    throttle_bucket = "ingest"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key from create_api_key."}
