from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="report_list"),
    path("new/", views.report_create, name="report_create"),
    path("columns/", views.report_columns, name="report_columns"),
    path("download/", views.report_download_selected, name="report_download_selected"),
    path("delete/", views.report_delete, name="report_delete"),
    path("run-again/", views.report_run_again, name="report_run_again"),
    path("duplicate/", views.report_duplicate, name="report_duplicate"),
    path("<uuid:report_id>/", views.report_detail, name="report_detail"),
    path("<uuid:report_id>/row/", views.report_row, name="report_row"),
    path("<uuid:report_id>/status/", views.report_status, name="report_status"),
    path("<uuid:report_id>/download/", views.report_download, name="report_download"),
]
