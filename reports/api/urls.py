from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import schedule_views, views

app_name = "api"

urlpatterns = [
    path("v1/token", views.token, name="token"),
    path("v1/org-unit/reports", views.reports, name="reports"),
    path("v1/org-unit/reports/count", views.report_count, name="report_count"),
    path("v1/org-unit/reports/availability", views.report_availability, name="availability"),
    path("v1/org-unit/reports/batch-delete", views.report_batch_delete, name="batch_delete"),
    path("v1/org-unit/reports/<str:reportId>", views.report, name="report"),
    path("v1/org-unit/reports/<str:reportId>/file", views.report_file, name="report_file"),
    path("v1/org-unit/report-schedules", schedule_views.report_schedules, name="report_schedules"),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>",
        schedule_views.report_schedule,
        name="report_schedule",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/pause",
        schedule_views.pause,
        name="report_schedule_pause",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/resume",
        schedule_views.resume,
        name="report_schedule_resume",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/run-now",
        schedule_views.run_schedule_now,
        name="report_schedule_run_now",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/runs",
        schedule_views.schedule_runs,
        name="report_schedule_runs",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/targets",
        schedule_views.schedule_targets,
        name="report_schedule_targets",
    ),
    path(
        "v1/org-unit/report-schedules/<str:scheduleId>/targets/<str:targetId>",
        schedule_views.schedule_target,
        name="report_schedule_target",
    ),
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
