from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="report_list"),
    path("new/", views.report_create, name="report_create"),
    path("<uuid:report_id>/", views.report_detail, name="report_detail"),
    path("<uuid:report_id>/download/", views.report_download, name="report_download"),
]
