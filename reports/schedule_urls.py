from django.urls import path

from . import schedule_views as views

app_name = "schedules"

urlpatterns = [
    path("", views.schedule_list, name="schedule_list"),
    path("new/", views.schedule_create, name="schedule_create"),
    path("new/preview/", views.schedule_preview, name="schedule_create_preview"),
    path("<uuid:schedule_id>/", views.schedule_detail, name="schedule_detail"),
    path("<uuid:schedule_id>/edit/", views.schedule_edit, name="schedule_edit"),
    path("<uuid:schedule_id>/preview/", views.schedule_preview, name="schedule_preview"),
    path("<uuid:schedule_id>/pause/", views.schedule_pause, name="schedule_pause"),
    path("<uuid:schedule_id>/resume/", views.schedule_resume, name="schedule_resume"),
    path("<uuid:schedule_id>/run-now/", views.schedule_run_now, name="schedule_run_now"),
    path("<uuid:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("<uuid:schedule_id>/targets/", views.target_create, name="target_create"),
    path(
        "<uuid:schedule_id>/targets/<int:target_id>/enable/",
        views.target_enable,
        name="target_enable",
    ),
    path(
        "<uuid:schedule_id>/targets/<int:target_id>/disable/",
        views.target_disable,
        name="target_disable",
    ),
    path(
        "<uuid:schedule_id>/targets/<int:target_id>/rotate-secret/",
        views.target_rotate_secret,
        name="target_rotate_secret",
    ),
    path(
        "<uuid:schedule_id>/targets/<int:target_id>/delete/",
        views.target_delete,
        name="target_delete",
    ),
]
