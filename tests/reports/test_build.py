"""The build of a report (spec 4.2, 4.3): its lifecycle, the CSV's exact bytes, and every way a
build can end."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from reports import tasks
from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import (
    FAILED_MESSAGE,
    STUCK_MESSAGE,
    build_report,
    delete_expired_reports,
    sweep_stuck_builds,
)
from reports_site.tenancy.models import Project
from tests.consumption.samples import sample, save_samples
from tests.factories import grant
from tests.reports.conftest import MARCH, stored_files

HOURS = "GPU allocation hours,GPU Idle hours,CPU cores allocation hours,CPU cores usage hours,"
BYTES = "CPU Memory bytes allocation hours,CPU Memory bytes usage hours"


pytestmark = pytest.mark.usefixtures("no_queue")


def new_report(subject, **fields) -> Report:
    values = {"name": "March", "start": MARCH[0], "end": MARCH[1], **fields}
    return create_report(subject, **values)


def csv_text(report: Report) -> str:
    report.refresh_from_db()
    with default_storage.open(report.file.name, "rb") as file:
        return file.read().decode("utf-8")


@pytest.mark.django_db
class TestLifecycle:
    def test_pending_then_ready_with_rows_size_and_file(self, viewer, usage):
        report = new_report(viewer)
        assert report.status == ReportStatus.PENDING
        assert build_report(str(report.pk)) == "ready"
        report.refresh_from_db()
        assert report.status == ReportStatus.READY
        assert report.status_message == ""
        assert report.row_count == 4
        assert report.file.name == f"reports/{report.pk}.csv"
        assert report.file_size == len(csv_text(report).encode())
        assert report.heartbeat_at is None

    @pytest.mark.parametrize(
        "group_by, expected",
        [
            (
                "Project",
                "Cluster,Department,Project," + HOURS + BYTES + "\r\n"
                "east,ops,infra,4.0000,0.0000,0.0000,0.0000,0,0\r\n"
                "east,research,nlp,2.0000,0.0000,0.0000,0.0000,0,0\r\n"
                "east,research,vision,1.0000,0.0000,2.0000,0.0000,3600,0\r\n"
                "west,training,llm,8.0000,0.0000,0.0000,0.0000,0,0\r\n",
            ),
            (
                "Department",
                "Cluster,Department," + HOURS + BYTES + "\r\n"
                "east,ops,4.0000,0.0000,0.0000,0.0000,0,0\r\n"
                "east,research,3.0000,0.0000,2.0000,0.0000,3600,0\r\n"
                "west,training,8.0000,0.0000,0.0000,0.0000,0,0\r\n",
            ),
            (
                "Cluster",
                "Cluster," + HOURS + BYTES + "\r\n"
                "east,7.0000,0.0000,2.0000,0.0000,3600,0\r\n"
                "west,8.0000,0.0000,0.0000,0.0000,0,0\r\n",
            ),
            (
                "Nodepool",
                "Cluster,Node pool," + HOURS + BYTES + "\r\n"
                "east,a100,2.0000,0.0000,0.0000,0.0000,0,0\r\n"
                "east,default,5.0000,0.0000,2.0000,0.0000,3600,0\r\n"
                "west,default,8.0000,0.0000,0.0000,0.0000,0,0\r\n",
            ),
        ],
    )
    def test_the_csv_of_each_segment(self, viewer, usage, group_by, expected):
        report = new_report(viewer, group_by=group_by)
        build_report(str(report.pk))
        assert csv_text(report) == expected

    def test_the_csv_of_a_report_with_rows_per_day_of_a_time_zone(self, viewer, usage):
        # 10:00-11:00 UTC on 10 March is 21:00-22:00 in Sydney (UTC+11): its 10 March. A
        # sample from 12:30 to 13:30 UTC crosses Sydney's midnight (13:00 UTC) halfway.
        save_samples(sample(usage["vision"], "2026-03-10T12:30Z", 3600, workload="late", gpu=1))
        report = new_report(viewer, group_by="Cluster", bucket="Day", time_zone="Australia/Sydney")
        build_report(str(report.pk))
        assert csv_text(report) == (
            "Period start,Cluster," + HOURS + BYTES + "\r\n"
            "2026-03-10,east,7.5000,0.0000,2.0000,0.0000,3600,0\r\n"
            "2026-03-10,west,8.0000,0.0000,0.0000,0.0000,0,0\r\n"
            "2026-03-11,east,0.5000,0.0000,0.0000,0.0000,0,0\r\n"
        )
        report.refresh_from_db()
        assert report.row_count == 3
        # The page's largest segments are over the whole period.
        assert report.summary["top"] == [["east", "8.0000"], ["west", "8.0000"]]

    def test_a_project_researchers_report_holds_only_their_projects(self, researcher, usage):
        report = new_report(researcher, group_by="Cluster")
        build_report(str(report.pk))
        assert csv_text(report).splitlines()[1:] == ["east,1.0000,0.0000,2.0000,0.0000,3600,0"]

    def test_filters_apply(self, viewer, usage):
        report = new_report(viewer, filter_by=["departmentName==research", "projectName==nlp"])
        build_report(str(report.pk))
        assert csv_text(report).splitlines()[1:] == [
            "east,research,nlp,2.0000,0.0000,0.0000,0.0000,0,0"
        ]

    def test_names_that_look_like_formulas_are_escaped(self, viewer, org):
        org["vision"].name = "=HYPERLINK(1)"
        org["vision"].save()
        org["research"].name = "-dept, with comma"
        org["research"].save()
        save_samples(sample(org["vision"], "2026-03-10T10:00Z", 3600, gpu=1))
        report = new_report(viewer)
        build_report(str(report.pk))
        assert csv_text(report).splitlines()[1] == (
            "east,\"'-dept, with comma\",'=HYPERLINK(1),1.0000,0.0000,0.0000,0.0000,0,0"
        )

    def test_a_report_without_usage_has_only_its_header(self, viewer, org):
        report = new_report(viewer)
        build_report(str(report.pk))
        assert csv_text(report) == "Cluster,Department,Project," + HOURS + BYTES + "\r\n"
        report.refresh_from_db()
        assert report.row_count == 0

    def test_a_failing_aggregation_ends_failed_with_a_message(self, viewer, usage, monkeypatch):
        def explode(**kwargs):
            raise RuntimeError("the database went away")

        monkeypatch.setattr("reports.tasks.consumption_rows", explode)
        report = new_report(viewer)
        assert build_report(str(report.pk)) == "failed"
        report.refresh_from_db()
        assert (report.status, report.status_message) == (ReportStatus.FAILED, FAILED_MESSAGE)
        assert not report.file
        assert not default_storage.exists(f"reports/{report.pk}.csv")

    def test_only_one_worker_builds_a_report(self, viewer, usage):
        report = new_report(viewer)
        assert build_report(str(report.pk)) == "ready"
        assert build_report(str(report.pk)).startswith("not claimed")

    def test_building_again_leaves_one_file_with_the_same_content(
        self, viewer, usage, report_storage
    ):
        report = new_report(viewer)
        build_report(str(report.pk))
        first = csv_text(report)
        Report.objects.filter(pk=report.pk).update(status=ReportStatus.PENDING)
        assert build_report(str(report.pk)) == "ready"
        assert csv_text(report) == first
        assert stored_files() == [f"{report.pk}.csv"]

    def test_a_report_deleted_during_its_build_leaves_no_file(
        self, viewer, usage, report_storage, monkeypatch
    ):
        report = new_report(viewer)
        real_write = tasks.write_csv

        def write_then_delete(out, group_by, rows, **options):
            Report.objects.filter(pk=report.pk).delete()  # someone deletes it meanwhile
            return real_write(out, group_by, rows, **options)

        monkeypatch.setattr("reports.tasks.write_csv", write_then_delete)
        assert build_report(str(report.pk)).startswith("discarded")
        assert stored_files() == []


@pytest.mark.django_db
class TestManyProjects:
    """A report's projects reach the build as one list of ids, however many there are."""

    @pytest.fixture
    def permitted(self, bob, org) -> dict[str, int]:
        """1,200 projects of research, with n GPU hours in project pNNNN; bob may read the odd
        ones, each by a rule of its own. Returns bob's projects' GPU hours by name."""
        projects = Project.objects.bulk_create(
            Project(cluster=org["east"], department=org["research"], name=f"p{n:04}")
            for n in range(1, 1201)
        )
        save_samples(
            *(sample(p, "2026-03-10T10:00Z", 3600, gpu=n) for n, p in enumerate(projects, 1))
        )
        for project in projects[::2]:
            grant(bob, "L1 researcher", project)
        return {p.name: n for n, p in enumerate(projects, 1) if n % 2}

    def test_a_project_report_holds_each_permitted_project(self, bob, permitted):
        report = new_report(bob)
        build_report(str(report.pk))
        assert csv_text(report).splitlines()[1:] == [
            f"east,research,{name},{hours}.0000,0.0000,0.0000,0.0000,0,0"
            for name, hours in sorted(permitted.items())
        ]

    def test_a_department_report_sums_only_the_permitted_projects(self, bob, permitted):
        report = new_report(bob, group_by="Department")
        build_report(str(report.pk))
        total = sum(permitted.values())
        assert csv_text(report).splitlines()[1:] == [
            f"east,research,{total}.0000,0.0000,0.0000,0.0000,0,0"
        ]


@pytest.mark.django_db
class TestSweeperAndRetention:
    def test_a_build_whose_heartbeat_stopped_goes_back_to_the_queue(self, viewer, usage, no_queue):
        report = new_report(viewer)
        stale = timezone.now() - timedelta(minutes=10)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.PROCESSING, heartbeat_at=stale, build_attempts=1
        )
        assert sweep_stuck_builds() == "1 re-queued, 0 failed"
        report.refresh_from_db()
        assert report.status == ReportStatus.PENDING
        assert no_queue[-1] == report.pk
        assert build_report(str(report.pk)) == "ready"

    def test_after_the_last_attempt_it_fails_with_a_message(self, viewer, usage):
        report = new_report(viewer)
        stale = timezone.now() - timedelta(minutes=10)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.PROCESSING, heartbeat_at=stale, build_attempts=3
        )
        assert sweep_stuck_builds() == "0 re-queued, 1 failed"
        report.refresh_from_db()
        assert (report.status, report.status_message) == (ReportStatus.FAILED, STUCK_MESSAGE)

    def test_a_live_build_is_left_alone(self, viewer, usage):
        report = new_report(viewer)
        Report.objects.filter(pk=report.pk).update(
            status=ReportStatus.PROCESSING, heartbeat_at=timezone.now(), build_attempts=1
        )
        assert sweep_stuck_builds() == "0 re-queued, 0 failed"

    def test_retention_deletes_old_reports_and_their_files(
        self, viewer, usage, settings, report_storage, django_capture_on_commit_callbacks
    ):
        settings.REPORT_RETENTION_DAYS = 90
        old, new = new_report(viewer, name="Old"), new_report(viewer, name="New")
        build_report(str(old.pk))
        Report.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
        with django_capture_on_commit_callbacks(execute=True):
            assert delete_expired_reports() == "1 deleted"
        assert list(Report.objects.all()) == [new]
        assert stored_files() == []

    def test_retention_zero_keeps_everything(self, viewer, usage, settings):
        settings.REPORT_RETENTION_DAYS = 0
        report = new_report(viewer)
        Report.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(days=900))
        assert delete_expired_reports() == "retention off"
        assert Report.objects.exists()
