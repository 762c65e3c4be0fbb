"""Production serves the collected static files itself (whitenoise), so the API docs'
Swagger UI and ReDoc load from gunicorn with DEBUG off and no CDN."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

SIDECAR_FILES = [
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
    "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
]


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    from django.test import override_settings

    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


@pytest.fixture
def collected(settings, static_root):
    settings.DEBUG = False
    settings.STATIC_ROOT = static_root
    settings.WHITENOISE_USE_FINDERS = False  # only what collectstatic gathered, as deployed
    return static_root


@pytest.mark.parametrize("path", SIDECAR_FILES)
def test_collected_docs_assets_are_served_with_debug_off(collected, path):
    response = Client().get(path)  # a new client: the middleware reads STATIC_ROOT on start
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


def test_every_asset_the_docs_pages_name_is_served(collected):
    import re

    client = Client()
    for page in ("/api/docs/", "/api/redoc/"):
        html = client.get(page).content.decode()
        for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", html):
            assert client.get(asset).status_code == 200, (page, asset)
