from django.urls import path

from invoices.alerts import views as alerts
from invoices.portal import dashboard, exports, invoices, team

# Every customer-facing URL is here (tests/pages walk them as another customer's user).
urlpatterns = [
    path("", dashboard.dashboard_page, name="home"),
    path("invoices/", invoices.invoice_list_page, name="portal-invoices"),
    path("invoices/<str:invoice_id>/", invoices.invoice_page, name="invoice-page"),
    path("invoices/<str:invoice_id>/invoice.pdf", invoices.invoice_pdf_page, name="invoice-pdf"),
    path("invoices/<str:invoice_id>/lines/<int:position>/events.csv", exports.line_events_csv,
         name="portal-export-line-events"),
    path("exports/", exports.exports_page, name="portal-exports"),
    path("exports/usage.csv", exports.usage_csv, name="portal-export-usage"),
    path("team/", team.team_page, name="portal-team"),
    path("team/invite/", team.team_invite, name="portal-team-invite"),
    path("alerts/", alerts.alerts_page, name="portal-alerts"),
]
