"""Routes under /api/v1 for metrics, plans, plan versions and contracts."""

from __future__ import annotations

from common.api.urls import api_path
from plans.api import views

urlpatterns = [
    *api_path("metrics", views.MetricListView, "metric-list"),
    *api_path("metrics/<str:code>", views.MetricDetailView, "metric-detail"),
    *api_path("plans", views.PlanListView, "plan-list"),
    *api_path("plans/<str:code>", views.PlanDetailView, "plan-detail"),
    *api_path("plans/<str:code>/versions", views.PlanVersionListView, "plan-version-list"),
    *api_path("plans/<str:code>/versions/<int:version>", views.PlanVersionDetailView,
              "plan-version-detail"),
    *api_path("plans/<str:code>/versions/<int:version>/publish", views.PlanVersionPublishView,
              "plan-version-publish"),
    *api_path("contracts", views.ContractListView, "contract-list"),
    *api_path("contracts/<int:contract_id>", views.ContractDetailView, "contract-detail"),
    *api_path("contracts/<int:contract_id>/migrations", views.ContractMigrationListView,
              "contract-migration-list"),
    *api_path("contracts/<int:contract_id>/migrations/<int:migration_id>",
              views.ContractMigrationDetailView, "contract-migration-detail"),
    *api_path("contracts/<int:contract_id>/migrations/<int:migration_id>/cancel",
              views.ContractMigrationCancelView, "contract-migration-cancel"),
]
