from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"

urlpatterns = [
    path("v1/token", views.token, name="token"),
    path("v1/org-unit/reports", views.reports, name="reports"),
    path("v1/org-unit/reports/count", views.report_count, name="report_count"),
    path("v1/org-unit/reports/availability", views.report_availability, name="availability"),
    path("v1/org-unit/reports/batch-delete", views.report_batch_delete, name="batch_delete"),
    path("v1/org-unit/reports/<str:reportId>", views.report, name="report"),
    path("v1/org-unit/reports/<str:reportId>/file", views.report_file, name="report_file"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file (docs/?script): no inline script (CSP).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
]
