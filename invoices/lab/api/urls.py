"""Routes under /api/v1 for the pricing lab. Each part of the lab appends its own lines."""

from __future__ import annotations

from common.api.urls import api_path
from invoices.lab.api import backtests, pricing

urlpatterns: list = [
    *api_path("backtests", backtests.BacktestListView, "backtest-list"),
    *api_path("backtests/<str:backtest_id>", backtests.BacktestDetailView, "backtest-detail"),
    *api_path("pricing/archetypes", pricing.ArchetypesView, "pricing-archetypes"),
    *api_path("pricing/recommendations", pricing.RecommendationsView,
              "pricing-recommendations"),
]
