from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import SEARCH_VAR
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext

from reports_site.paging import SEARCH_COUNT_LIMIT, AdminPaginator

from . import services
from .downloads import csv_response
from .models import Delivery, DeliveryTarget, Report, ReportSchedule, ReportStatus, ScheduleRun
from .tables import ReportTable

OPERATOR_FAILED_MESSAGE = "Stopped by an operator."
OPERATOR_PAUSED_MESSAGE = "Paused by an operator."


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    # The Reports table's default columns but the long description, with the tenant, the
    # segment and a download link.
    list_display = [
        "report_name",
        "tenant",
        *(c for c in ReportTable.Meta.default_columns if c not in {"name", "description"}),
        "group_by",
        "download",
    ]
    list_filter = ["status", "tenant", "type", "group_by", "bucket", "costs"]
    list_select_related = ["tenant"]
    search_fields = ["name", "created_by"]
    # The primary key breaks ties, as the admin would add; the report_by_time index serves it.
    ordering = ["-created_at", "-pk"]
    paginator = AdminPaginator
    # Half Django's default: a page of 100 took the admin three times as long as the Reports
    # table takes for its 25, in Django's own list rendering; operators find reports by filter
    # and search rather than by paging.
    list_per_page = 50
    show_full_result_count = False
    raw_id_fields = ["created_by_user", "created_by_service_account"]
    readonly_fields = [
        "id",
        "project_ids",
        "created_at",
        "status_updated_at",
        "heartbeat_at",
        "build_attempts",
        "row_count",
        "file_size",
        "stored_file",
        "download",
    ]
    # The stored file is shown by name, and downloaded through the checked path (`download`);
    # the summary is what the report's page shows.
    exclude = ["file", "summary"]
    actions = ["requeue", "mark_failed"]

    def action_checkbox(self, report: Report) -> str:
        # The admin's own checkbox, written as HTML rather than through a form widget's
        # template: the widget was a third of the time of a page of 100 reports.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            report.pk,
            format_html(gettext("Select this object for an action - {}"), str(report)),
        )

    @admin.display(description="Name", ordering="name_key")
    def report_name(self, report: Report) -> str:
        # Sorted regardless of letter case, as the Reports table sorts it, which the
        # report_by_name index serves.
        return report.name

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        # The summary a report's page shows is not wanted in the admin.
        return super().get_queryset(request).defer("summary")

    def get_paginator(self, request: HttpRequest, queryset, per_page, *args, **kwargs):
        # A search counts no further than the Reports table's: each report's text is matched.
        limit = SEARCH_COUNT_LIMIT if request.GET.get(SEARCH_VAR) else None
        return self.paginator(queryset, per_page, *args, count_limit=limit, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Reports are made through the pages, the API or `create_report`, which apply the
        # creator's permissions; the admin only looks after them.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Report | None = None) -> bool:
        # A report's fields are its file's: editing the period, segment or filters of a built
        # report, or its status by hand, would leave them apart. Operators change state only
        # through the actions (re-queue, mark failed, delete), which keep a report consistent.
        return False

    def get_urls(self):
        return [
            path(
                "<uuid:report_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name="reports_report_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, report_id):
        if not self.has_view_permission(request):
            raise Http404
        report = get_object_or_404(Report, pk=report_id, status=ReportStatus.READY)
        return csv_response(report)

    @admin.display(description="file")
    def stored_file(self, report: Report) -> str:
        return report.file.name or "–"

    @admin.display(description="CSV")
    def download(self, report: Report) -> str:
        if not report.is_ready:
            return "–"
        url = reverse("admin:reports_report_download", args=[report.pk])
        return format_html('<a href="{}">Download</a>', url)

    @admin.action(description="Re-queue the selected reports")
    def requeue(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        count = services.requeue(queryset)
        self.message_user(request, f"{count} report(s) put back in the queue.", messages.SUCCESS)

    @admin.action(description="Mark the selected reports as failed")
    def mark_failed(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        count = queryset.exclude(status=ReportStatus.READY).fail(OPERATOR_FAILED_MESSAGE)
        self.message_user(request, f"{count} report(s) marked as failed (Ready ones are kept).")

    # An operator's delete, of one report or many, removes the files too.
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        queryset.delete_with_files()

    def delete_model(self, request: HttpRequest, obj: Report) -> None:
        Report.objects.filter(pk=obj.pk).delete_with_files()


class ScheduleRunInline(admin.TabularInline):
    """A schedule's runs, as the scheduler recorded them: read only."""

    model = ScheduleRun
    fields = ["period_label", "status", "message", "report", "on_demand", "repeat", "created_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-pk"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class DeliveryTargetInline(admin.StackedInline):
    """Where a schedule's reports are sent once Ready. The webhook's secret is made with the
    target and shown here, for its receiver to check the signature with."""

    model = DeliveryTarget
    fields = ["kind", "recipients", "url", "secret", "prefix", "enabled"]
    readonly_fields = ["secret"]
    extra = 0
    # Django 6 assumes https for a URL typed without a scheme; so do we, already.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(ReportSchedule)
class ReportScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "runs", "paused", "owner_name", "created_at"]
    list_filter = ["paused", "frequency", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["name", "owner_name"]
    ordering = ["name_key", "pk"]
    # The owner, whose permissions its reports are made with, is who made it.
    readonly_fields = [
        "id",
        "tenant",
        "owner_name",
        "owner_user",
        "owner_service_account",
        "active_since",
        "created_at",
    ]
    inlines = [DeliveryTargetInline, ScheduleRunInline]
    actions = ["pause", "resume"]

    @admin.display(description="runs")
    def runs(self, schedule: ReportSchedule) -> str:
        return schedule.recurrence.in_words

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Schedules are made through the pages or the API, by the owner they are made for.
        return False

    def save_model(self, request, obj: ReportSchedule, form, change: bool) -> None:
        services.save_schedule(obj)

    @admin.action(description="Pause the selected schedules")
    def pause(self, request: HttpRequest, queryset: QuerySet[ReportSchedule]) -> None:
        count = queryset.pause(OPERATOR_PAUSED_MESSAGE)
        self.message_user(request, f"{count} schedule(s) paused.", messages.SUCCESS)

    @admin.action(description="Resume the selected schedules")
    def resume(self, request: HttpRequest, queryset: QuerySet[ReportSchedule]) -> None:
        count = queryset.resume()
        self.message_user(request, f"{count} schedule(s) resumed.", messages.SUCCESS)


class RecordAdmin(admin.ModelAdmin):
    """A long list of what the workers recorded, newest first: shown, never added or changed
    here."""

    ordering = ["-created_at", "-pk"]
    paginator = AdminPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ScheduleRun)
class ScheduleRunAdmin(RecordAdmin):
    """What the schedules did, every tenant's: read only (a run is the scheduler's record)."""

    list_display = ["schedule", "period_label", "status", "on_demand", "report", "created_at"]
    list_filter = ["status", "on_demand", "schedule__tenant"]
    list_select_related = ["schedule", "report"]
    search_fields = ["schedule__name", "period_label", "message"]


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    """Each report's deliveries to its schedule's targets: read only (the workers' record)."""

    list_display = ["report", "target", "status", "attempts", "delivered_at", "last_error"]
    list_filter = ["status", "target__kind", "target__schedule__tenant"]
    list_select_related = ["report", "target__schedule"]
    search_fields = ["report__name", "target__schedule__name", "last_error"]
