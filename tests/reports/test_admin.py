"""The operators' admin for reports (spec 4.5)."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.db import connection
from django.urls import reverse

from reports.admin import OPERATOR_FAILED_MESSAGE
from reports.models import Report, ReportStatus
from reports.services import create_report
from tests.reports.conftest import MARCH, ready_report

pytestmark = pytest.mark.usefixtures("no_queue")


@pytest.fixture
def ready(viewer, usage):
    return ready_report(viewer, "Ready one")


@pytest.fixture
def pending(researcher, usage):
    return create_report(researcher, name="Pending one", start=MARCH[0], end=MARCH[1])


CHANGELIST = "admin:reports_report_changelist"


@pytest.mark.django_db
class TestReportAdmin:
    def test_the_list_shows_every_tenants_reports(self, admin_client, ready, pending):
        response = admin_client.get(reverse(CHANGELIST))
        assert set(response.context["cl"].result_list) == {ready, pending}
        html = response.content.decode()
        assert reverse("admin:reports_report_download", args=[ready.pk]) in html

    def test_its_checkboxes_are_the_admins_own(self, admin_client, viewer, usage):
        # Written by ReportAdmin.action_checkbox rather than by a form widget's template.
        report = create_report(viewer, name='Q&A <b>"quoted"</b>', start=MARCH[0], end=MARCH[1])
        html = admin_client.get(reverse(CHANGELIST)).content.decode()
        django_own = admin.ModelAdmin(Report, admin.site).action_checkbox(report)
        assert "&lt;b&gt;" in django_own
        assert django_own in html
        assert (
            admin_client.post(
                reverse(CHANGELIST),
                {"action": "mark_failed", helpers.ACTION_CHECKBOX_NAME: [str(report.pk)]},
            ).status_code
            == 302
        )
        report.refresh_from_db()
        assert report.status == ReportStatus.FAILED

    def test_it_shows_the_tables_columns_and_sorts_by_the_period(
        self, admin_client, ready, pending
    ):
        response = admin_client.get(reverse(CHANGELIST))
        html = response.content.decode()
        for header in [
            "Name",
            "Tenant",
            "Status",
            "Created by",
            "Creation time",
            "Collection period",
            "Segment by",
        ]:
            assert f">{header}</a>" in html, header
        Report.objects.filter(pk=pending.pk).update(start=MARCH[0] + timedelta(days=3))
        index = response.context["cl"].list_display.index("period")
        for order, expected in [(f"{index}", [ready, pending]), (f"-{index}", [pending, ready])]:
            response = admin_client.get(reverse(CHANGELIST), {"o": order})
            assert list(response.context["cl"].result_list) == expected

    @pytest.mark.parametrize("order", [{}, {"o": "1"}])
    def test_its_order_needs_no_sort(self, admin_client, ready, pending, order):
        # The newest first, or by name (ascending), every tenant's: an index gives them in that
        # order, however many.
        changelist = admin_client.get(reverse(CHANGELIST), order).context["cl"]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # With the rows this test has, a sort would be cheaper than any index.
                cursor.execute("SET LOCAL enable_sort = off")
            plan = changelist.queryset[:100].explain()
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan

    def test_filters_by_status(self, admin_client, ready, pending):
        response = admin_client.get(reverse(CHANGELIST), {"status__exact": "Ready"})
        assert list(response.context["cl"].result_list) == [ready]

    def test_search_by_creator(self, admin_client, ready, pending):
        response = admin_client.get(reverse(CHANGELIST), {"q": "bob@acme"})
        assert list(response.context["cl"].result_list) == [pending]

    def test_a_search_counts_no_further_than_the_tables(
        self, admin_client, monkeypatch, ready, pending
    ):
        monkeypatch.setattr("reports.admin.SEARCH_COUNT_LIMIT", 1)
        searched = admin_client.get(reverse(CHANGELIST), {"q": "one"}).context["cl"]
        assert (searched.queryset.count(), searched.result_count) == (2, 1)
        # Without a search, the admin's own limit.
        assert admin_client.get(reverse(CHANGELIST)).context["cl"].result_count == 2

    def test_download(self, admin_client, ready):
        response = admin_client.get(reverse("admin:reports_report_download", args=[ready.pk]))
        assert response["Content-Disposition"] == 'attachment; filename="ready-one.csv"'
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert b"".join(response.streaming_content).startswith(b"Cluster,Department,Project,")

    def test_a_report_that_is_not_ready_has_nothing_to_download(self, admin_client, pending):
        url = reverse("admin:reports_report_download", args=[pending.pk])
        assert admin_client.get(url).status_code == 404

    def test_requeue(self, admin_client, ready, no_queue, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse(CHANGELIST), {"action": "requeue", "_selected_action": [ready.pk]}
            )
        ready.refresh_from_db()
        assert (ready.status, ready.status_message) == (ReportStatus.PENDING, "Report in queue")
        assert no_queue[-1] == ready.pk

    def test_mark_failed_keeps_ready_reports(self, admin_client, ready, pending):
        admin_client.post(
            reverse(CHANGELIST),
            {"action": "mark_failed", "_selected_action": [ready.pk, pending.pk]},
        )
        pending.refresh_from_db()
        ready.refresh_from_db()
        assert (pending.status, pending.status_message) == (
            ReportStatus.FAILED,
            OPERATOR_FAILED_MESSAGE,
        )
        assert ready.status == ReportStatus.READY

    def test_deleting_removes_the_file(
        self, admin_client, ready, media, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse(CHANGELIST),
                {"action": "delete_selected", "_selected_action": [ready.pk], "post": "yes"},
            )
        assert not Report.objects.exists()
        assert list((media / "reports").iterdir()) == []

    def test_operators_cannot_add_reports_here(self, admin_client):
        assert admin_client.get(reverse("admin:reports_report_add")).status_code == 403

    def test_a_reports_fields_cannot_be_edited_here(self, admin_client, ready):
        change = reverse("admin:reports_report_change", args=[ready.pk])
        page = admin_client.get(change)
        assert page.status_code == 200
        html = page.content.decode()
        # A view, not a form: the period, segment, filters and status show as text.
        for field in ["name", "start_0", "end_0", "group_by", "filter_by", "status"]:
            assert f'name="{field}"' not in html, field
        before = Report.objects.values().get(pk=ready.pk)
        response = admin_client.post(
            change,
            {
                "name": ready.name,
                "tenant": ready.tenant_id,
                "type": ready.type,
                "start_0": "2026-03-05",
                "start_1": "00:00:00",
                "end_0": ready.end.date().isoformat(),
                "end_1": "00:00:00",
                "group_by": "Cluster",
                "filter_by": "[]",
                "status": ReportStatus.FAILED,
                "status_message": "by hand",
                "created_by": ready.created_by,
            },
        )
        assert response.status_code == 403
        assert Report.objects.values().get(pk=ready.pk) == before

    def test_the_file_is_downloaded_through_the_checked_path(self, admin_client, ready):
        html = admin_client.get(reverse("admin:reports_report_change", args=[ready.pk])).content
        html = html.decode()
        download = reverse("admin:reports_report_download", args=[ready.pk])
        assert f'href="{download}"' in html
        assert "/media/" not in html
        assert admin_client.get(download).status_code == 200

    def test_the_list_still_offers_the_actions(self, admin_client, ready):
        html = admin_client.get(reverse(CHANGELIST)).content.decode()
        for action in ["requeue", "mark_failed", "delete_selected"]:
            assert f'<option value="{action}">' in html, action


@pytest.mark.django_db
class TestReportScheduleAdmin:
    @pytest.fixture
    def schedule(self, viewer, usage):
        from reports.models import ReportSchedule
        from reports.scheduling import run_now

        schedule = ReportSchedule(
            tenant=viewer.tenant, name="Weekly", frequency="weekly", weekday=0
        )
        schedule.set_owner(viewer)
        schedule.full_clean()
        schedule.save()
        run_now(schedule)
        return schedule

    def test_the_list_says_how_each_runs(self, admin_client, schedule):
        response = admin_client.get(reverse("admin:reports_reportschedule_changelist"))

        assert list(response.context["cl"].result_list) == [schedule]
        assert "Weekly from Monday, at 06:00 UTC" in response.content.decode()

    def test_a_schedules_page_shows_its_runs_read_only(self, admin_client, schedule):
        run = schedule.runs.get()
        url = reverse("admin:reports_reportschedule_change", args=[schedule.pk])

        response = admin_client.get(url)

        assert response.status_code == 200
        html = response.content.decode()
        assert run.period_label in html and run.report.name in html
        assert 'name="runs-0-status"' not in html  # shown, not editable

    def test_an_operator_pauses_schedules(self, admin_client, schedule):
        from reports.admin import OPERATOR_PAUSED_MESSAGE

        admin_client.post(
            reverse("admin:reports_reportschedule_changelist"),
            {"action": "pause", "_selected_action": [schedule.pk]},
        )

        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason) == (True, OPERATOR_PAUSED_MESSAGE)

    def test_the_runs_are_listed_for_every_tenant(self, admin_client, schedule):
        response = admin_client.get(reverse("admin:reports_schedulerun_changelist"))

        assert list(response.context["cl"].result_list) == list(schedule.runs.all())
        admin = response.context["cl"].model_admin
        assert admin.has_change_permission(response.wsgi_request) is False

    def test_an_operator_adds_a_webhook_target_and_sees_its_secret(self, admin_client, schedule):
        url = reverse("admin:reports_reportschedule_change", args=[schedule.pk])
        form = admin_client.get(url).context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if value is not None and not isinstance(value, (list, dict))
        }
        data |= {
            "filter_by": "[]",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "0",
            "targets-0-kind": "webhook",
            "targets-0-url": "https://hooks.example/reports",
            "targets-0-enabled": "on",
            "runs-TOTAL_FORMS": "0",
            "runs-INITIAL_FORMS": "0",
        }
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        target = schedule.targets.get()
        assert (target.kind, target.url, len(target.secret)) == (
            "webhook",
            "https://hooks.example/reports",
            64,
        )
        assert target.secret in admin_client.get(url).content.decode()

    def test_the_deliveries_are_listed_read_only(self, admin_client, schedule):
        from reports.models import Delivery, DeliveryTarget

        target = DeliveryTarget.objects.create(
            schedule=schedule, kind="webhook", url="https://hooks.example/reports"
        )
        delivery = Delivery.objects.create(report=schedule.runs.get().report, target=target)
        response = admin_client.get(reverse("admin:reports_delivery_changelist"))
        assert list(response.context["cl"].result_list) == [delivery]
        admin = response.context["cl"].model_admin
        assert admin.has_change_permission(response.wsgi_request) is False
