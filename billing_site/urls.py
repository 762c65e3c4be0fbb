from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from common.api.errors import unknown_api_route

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("plans.api.urls")),
    path("", include("usage.api.urls")),
    path("", include("invoices.api.urls")),
    path("", include("invoices.lab.api.urls")),
]

urlpatterns = [
    # The ops views (margin report, drill-downs), staff only, inside the admin's look.
    path("admin/ops/", include("invoices.ops.urls")),
    # The pricing lab's pages (archetypes, estimates, migration planning), staff only.
    path("admin/lab/", include("invoices.lab.admin_urls")),
    path("admin/", admin.site.urls),
    # The docs and the schema answer with and without the trailing slash, like every route.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema", SpectacularAPIView.as_view()),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema",
                                                     template_name="api_docs/swagger_ui.html"),
         name="api-docs"),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema",
                                                    template_name="api_docs/swagger_ui.html")),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema",
                                                    template_name="api_docs/redoc.html"),
         name="api-redoc"),
    path("api/redoc", SpectacularRedocView.as_view(url_name="schema",
                                                   template_name="api_docs/redoc.html")),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/", unknown_api_route),
    path("accounts/", include("django.contrib.auth.urls")),
    path("stripe/", include("invoices.stripe.urls")),
    path("", include("invoices.urls")),
]
handler400 = "common.api.errors.bad_request_error"
handler403 = "common.api.errors.permission_denied_error"
handler404 = "common.api.errors.not_found"
handler500 = "common.api.errors.server_error"
