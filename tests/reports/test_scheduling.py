"""Report schedules making their reports (reports.scheduling): each due period once, with the
owner's permissions as they are at that moment, catching up after downtime, keeping the last
reports, Run now, and two workers racing for one period. The clock is moved with time-machine;
every expected period is written out by hand."""

import threading
import time as wall_clock
from datetime import datetime, time

import pytest
from django.db import connection

from reports import scheduling
from reports.models import Report, ReportSchedule, RunStatus, ScheduleRun
from reports.scheduling import run_due_schedules, run_now
from reports.services import create_report
from reports.tasks import build_report, run_report_schedules
from tests.factories import ServiceAccountFactory, TenantFactory, grant
from tests.reports.conftest import stored_files
from tests.worker import kill, start_worker


def utc(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+00:00")


def make_schedule(owner, **fields) -> ReportSchedule:
    """A schedule "GPU usage" of the owner, made now: daily at 06:00 UTC unless said."""
    fields = {"name": "GPU usage", "frequency": "daily", "run_at": time(6), **fields}
    schedule = ReportSchedule(tenant_id=owner.tenant_id, **fields)
    schedule.set_owner(owner)
    schedule.full_clean()
    schedule.save()
    return schedule


def runs(schedule) -> list[tuple]:
    """The schedule's runs in the order they were recorded: period, status, report name."""
    return [
        (run.period_label, run.status, run.report and run.report.name)
        for run in schedule.runs.order_by("pk").select_related("report")
    ]


@pytest.fixture
def clock(time_machine):
    """The clock, stopped at a moment the test moves it to."""

    def move_to(text: str) -> None:
        time_machine.move_to(utc(text), tick=False)

    move_to("2026-11-10T12:00")
    return move_to


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestDuePeriods:
    def test_a_due_period_makes_one_report_of_it(self, viewer, org, clock):
        schedule = make_schedule(
            viewer,
            description="GPUs by department",
            group_by="Department",
            filter_by=["departmentName==research"],
            bucket="Day",
            time_zone="Europe/Paris",
            costs=True,
        )
        clock("2026-11-11T05:59:59")
        assert run_due_schedules() == []
        clock("2026-11-11T06:00")
        [run] = run_due_schedules()

        report = Report.objects.get()
        assert (run.period_label, run.status, run.report, run.on_demand) == (
            "2026-11-10",
            RunStatus.MADE,
            report,
            False,
        )
        assert (run.period_start, run.period_end) == (
            utc("2026-11-10T00:00"),
            utc("2026-11-11T00:00"),
        )
        assert (report.name, report.start, report.end) == (
            "GPU usage 2026-11-10",
            utc("2026-11-10T00:00"),
            utc("2026-11-11T00:00"),
        )
        assert (report.created_by_user, report.created_by) == (viewer, "alice@acme.example")
        assert (
            report.description,
            report.group_by,
            report.filter_by,
            report.bucket,
            report.time_zone,
            report.costs,
        ) == (
            "GPUs by department",
            "Department",
            ["departmentName==research"],
            "Day",
            "Europe/Paris",
            True,
        )
        assert schedule.runs.get() == run

    def test_calling_again_makes_nothing_more_until_the_next_period_is_due(
        self, viewer, org, clock
    ):
        schedule = make_schedule(viewer)
        clock("2026-11-11T06:00")
        run_due_schedules()
        assert run_due_schedules() == []
        clock("2026-11-12T05:00")
        assert run_due_schedules() == []
        clock("2026-11-12T06:30")
        assert [run.period_label for run in run_due_schedules()] == ["2026-11-11"]
        assert runs(schedule) == [
            ("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10"),
            ("2026-11-11", RunStatus.MADE, "GPU usage 2026-11-11"),
        ]
        assert Report.objects.count() == 2

    def test_a_fiscal_month_in_new_york_is_made_at_its_local_time(self, viewer, org, clock):
        schedule = make_schedule(
            viewer,
            frequency="monthly",
            day_of_month=26,
            schedule_time_zone="America/New_York",
            run_at=time(7),
            name_template="{period} {name}",
        )
        clock("2026-11-26T11:59")  # 06:59 EST
        assert run_due_schedules() == []
        clock("2026-11-26T12:00")
        run_due_schedules()
        report = Report.objects.get()
        assert (report.name, report.start, report.end) == (
            "2026-10-26 – 2026-11-25 GPU usage",
            utc("2026-10-26T04:00"),  # midnight EDT
            utc("2026-11-26T05:00"),  # midnight EST
        )
        assert runs(schedule) == [
            ("2026-10-26 – 2026-11-25", RunStatus.MADE, "2026-10-26 – 2026-11-25 GPU usage")
        ]

    def test_a_period_due_before_the_schedule_was_made_is_not_made(self, viewer, org, clock):
        clock("2026-11-11T07:00")  # the 10th fell due at 06:00
        schedule = make_schedule(viewer)
        clock("2026-11-11T23:00")
        assert run_due_schedules() == []
        clock("2026-11-12T06:00")
        run_due_schedules()
        assert runs(schedule) == [("2026-11-11", RunStatus.MADE, "GPU usage 2026-11-11")]

    def test_a_taken_name_is_numbered(self, viewer, org, clock):
        create_report(
            viewer,
            name="gpu USAGE 2026-11-10",
            start=utc("2026-11-01T00:00"),
            end=utc("2026-11-02T00:00"),
        )
        schedule = make_schedule(viewer)
        clock("2026-11-11T06:00")
        run_due_schedules()
        assert runs(schedule) == [("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10 (2)")]

    def test_a_service_account_owns_a_schedule_too(self, tenant, org, clock):
        robot = ServiceAccountFactory(tenant=tenant, name="robot")
        grant(robot, "Viewer", tenant)
        make_schedule(robot)
        clock("2026-11-11T06:00")
        run_due_schedules()
        report = Report.objects.get()
        assert (report.created_by_service_account, report.created_by_user, report.created_by) == (
            robot,
            None,
            "sa:robot",
        )

    def test_the_task_says_what_it_did(self, viewer, org, clock):
        make_schedule(viewer)
        clock("2026-11-11T06:00")
        assert run_report_schedules() == "1 made, 0 failed, 0 skipped"
        assert run_report_schedules() == "0 made, 0 failed, 0 skipped"


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestCatchingUp:
    def test_the_latest_missed_periods_are_made_oldest_first_and_older_ones_skipped(
        self, viewer, org, clock
    ):
        clock("2026-11-01T07:00")  # 31 October fell due at 06:00
        schedule = make_schedule(viewer, catch_up_limit=3)
        clock("2026-11-08T07:00")  # down since: 1 to 7 November fell due, at 06:00 the next day
        made = run_due_schedules()

        skipped = (
            "Not made: the scheduler was not running when this period fell due, and only the "
            "latest 3 missed periods are made."
        )
        assert [(run.period_label, run.status, run.message) for run in made] == [
            ("2026-11-01", RunStatus.SKIPPED, skipped),
            ("2026-11-02", RunStatus.SKIPPED, skipped),
            ("2026-11-03", RunStatus.SKIPPED, skipped),
            ("2026-11-04", RunStatus.SKIPPED, skipped),
            ("2026-11-05", RunStatus.MADE, ""),
            ("2026-11-06", RunStatus.MADE, ""),
            ("2026-11-07", RunStatus.MADE, ""),
        ]
        assert runs(schedule)[4:] == [
            ("2026-11-05", RunStatus.MADE, "GPU usage 2026-11-05"),
            ("2026-11-06", RunStatus.MADE, "GPU usage 2026-11-06"),
            ("2026-11-07", RunStatus.MADE, "GPU usage 2026-11-07"),
        ]
        assert sorted(Report.objects.values_list("name", flat=True)) == [
            "GPU usage 2026-11-05",
            "GPU usage 2026-11-06",
            "GPU usage 2026-11-07",
        ]
        assert run_due_schedules() == []

    def test_fewer_missed_periods_than_the_limit_are_all_made(self, viewer, org, clock):
        schedule = make_schedule(viewer, catch_up_limit=3)
        clock("2026-11-13T06:00")  # 10, 11 and 12 November
        run_due_schedules()
        assert [status for _, status, _ in runs(schedule)] == [RunStatus.MADE] * 3
        assert [label for label, _, _ in runs(schedule)] == [
            "2026-11-10",
            "2026-11-11",
            "2026-11-12",
        ]

    def test_a_worker_that_dies_before_committing_leaves_the_period_to_the_next(
        self, viewer, org, clock, monkeypatch
    ):
        schedule = make_schedule(viewer)
        clock("2026-11-11T06:00")

        def dies(*args, **kwargs):
            raise RuntimeError("the worker died")

        monkeypatch.setattr("reports.scheduling.create_report", dies)
        assert run_due_schedules() == []
        assert (ScheduleRun.objects.count(), Report.objects.count()) == (0, 0)
        monkeypatch.undo()
        monkeypatch.setattr("reports.services.enqueue_build", lambda report_id: None)
        run_due_schedules()
        assert runs(schedule) == [("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10")]

    def test_a_period_whose_claim_died_while_a_later_one_was_made_is_made(self, viewer, org, clock):
        schedule = make_schedule(viewer, catch_up_limit=3)
        clock("2026-11-13T06:00")
        run_due_schedules()
        # As if the worker that claimed 11 November died while another made 12 November.
        ScheduleRun.objects.filter(schedule=schedule, period_label="2026-11-11").delete()
        run_due_schedules()
        assert sorted(label for label, status, _ in runs(schedule) if status == "Made") == [
            "2026-11-10",
            "2026-11-11",
            "2026-11-12",
        ]
        assert Report.objects.filter(name="GPU usage 2026-11-11").count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestOwnersPermissions:
    def test_reports_hold_what_the_owner_may_read_when_each_is_made(self, researcher, org, clock):
        schedule = make_schedule(researcher)
        clock("2026-11-11T06:00")
        run_due_schedules()
        grant(researcher, "L1 researcher", org["llm"])
        clock("2026-11-12T06:00")
        run_due_schedules()
        first, second = (run.report for run in schedule.runs.order_by("pk"))
        assert first.project_ids == [org["vision"].pk]
        assert second.project_ids == sorted([org["vision"].pk, org["llm"].pk])

    @pytest.mark.parametrize(
        "loss, message",
        [
            (
                "access rule removed",
                "The owner, alice@acme.example, may read no project any more, so can make no "
                "report.",
            ),
            ("deactivated", "The owner, alice@acme.example, is deactivated."),
            ("deleted", "The owner, alice@acme.example, no longer exists."),
            (
                "moved to another tenant",
                "The owner, alice@acme.example, is no longer of this tenant.",
            ),
        ],
    )
    def test_an_owner_who_lost_access_fails_the_run_and_pauses_the_schedule(
        self, viewer, org, clock, loss, message
    ):
        schedule = make_schedule(viewer)
        if loss == "access rule removed":
            viewer.access_rules.all().delete()
        elif loss == "deactivated":
            viewer.is_active = False
            viewer.save()
        elif loss == "deleted":
            viewer.delete()
        else:
            viewer.tenant = TenantFactory(slug="initech")
            viewer.save()
        clock("2026-11-11T06:00")
        [run] = run_due_schedules()

        assert (run.period_label, run.status, run.message, run.report) == (
            "2026-11-10",
            RunStatus.FAILED,
            message,
            None,
        )
        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason) == (True, message)
        assert Report.objects.count() == 0
        clock("2026-11-12T06:00")
        assert run_due_schedules() == []  # paused

    def test_reports_that_cannot_be_made_fail_and_pause_the_schedule(self, viewer, org, clock):
        # Saved without its checks (as a form would refuse it): names of 245 + 11 characters.
        schedule = make_schedule(viewer)
        ReportSchedule.objects.filter(pk=schedule.pk).update(name="x" * 245)
        clock("2026-11-11T06:00")
        [run] = run_due_schedules()
        message = (
            "The report could not be made: Name: Use at most 250 characters (this name has 256)."
        )
        assert (run.status, run.message) == (RunStatus.FAILED, message)
        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason) == (True, message)

    def test_a_failure_stops_the_periods_after_it(self, viewer, org, clock):
        clock("2026-11-01T07:00")
        schedule = make_schedule(viewer)
        viewer.access_rules.all().delete()
        clock("2026-11-04T06:00")  # 1, 2 and 3 November are due
        assert [(run.period_label, run.status) for run in run_due_schedules()] == [
            ("2026-11-01", RunStatus.FAILED)
        ]
        assert schedule.runs.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestPausing:
    def test_a_paused_schedule_makes_nothing_and_resumes_with_the_next_period(
        self, viewer, org, clock
    ):
        schedule = make_schedule(viewer)
        assert ReportSchedule.objects.filter(pk=schedule.pk).pause("Holidays") == 1
        clock("2026-11-13T12:00")
        assert run_due_schedules() == []
        assert ReportSchedule.objects.filter(pk=schedule.pk).resume() == 1
        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason, schedule.active_since) == (
            False,
            "",
            utc("2026-11-13T12:00"),
        )
        assert run_due_schedules() == []  # 10, 11 and 12 November fell due while paused
        clock("2026-11-14T06:00")
        run_due_schedules()
        assert runs(schedule) == [("2026-11-13", RunStatus.MADE, "GPU usage 2026-11-13")]


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestRunNow:
    def test_it_makes_the_last_complete_period_which_is_then_not_made_again(
        self, viewer, org, clock
    ):
        schedule = make_schedule(viewer)
        clock("2026-11-11T03:00")  # the 10th is over, due at 06:00
        run = run_now(schedule)
        assert (run.period_label, run.status, run.on_demand, run.repeat, run.report.name) == (
            "2026-11-10",
            RunStatus.MADE,
            True,
            False,
            "GPU usage 2026-11-10",
        )
        clock("2026-11-11T06:00")
        assert run_due_schedules() == []

    def test_again_it_makes_a_repeat_with_a_numbered_name(self, viewer, org, clock):
        schedule = make_schedule(viewer)
        clock("2026-11-11T06:00")
        run_due_schedules()
        run = run_now(schedule)
        assert (run.period_label, run.on_demand, run.repeat, run.report.name) == (
            "2026-11-10",
            True,
            True,
            "GPU usage 2026-11-10 (2)",
        )
        assert runs(schedule) == [
            ("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10"),
            ("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10 (2)"),
        ]

    def test_it_leaves_the_periods_missed_before_it_to_the_scheduler(self, viewer, org, clock):
        clock("2026-11-08T12:00")
        schedule = make_schedule(viewer)
        clock("2026-11-11T03:00")  # the scheduler was down: 8 and 9 November are due
        run_now(schedule)
        clock("2026-11-11T06:00")
        run_due_schedules()
        assert runs(schedule) == [
            ("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10"),
            ("2026-11-08", RunStatus.MADE, "GPU usage 2026-11-08"),
            ("2026-11-09", RunStatus.MADE, "GPU usage 2026-11-09"),
        ]

    def test_a_failure_pauses_the_schedule(self, viewer, org, clock):
        schedule = make_schedule(viewer)
        viewer.is_active = False
        viewer.save()
        clock("2026-11-11T03:00")
        run = run_now(schedule)
        assert (run.status, run.message) == (
            RunStatus.FAILED,
            "The owner, alice@acme.example, is deactivated.",
        )
        schedule.refresh_from_db()
        assert schedule.paused


@pytest.mark.django_db
def test_the_reports_beyond_the_last_kept_are_deleted_with_their_files(
    viewer, org, clock, no_queue, media, django_capture_on_commit_callbacks
):
    schedule = make_schedule(viewer, keep_last=2)
    for day in ("11", "12", "13"):
        clock(f"2026-11-{day}T06:00")
        with django_capture_on_commit_callbacks(execute=True):
            run_due_schedules()
        build_report(no_queue[-1])
    [first, second, third] = schedule.runs.order_by("pk")

    assert (first.period_label, first.status, first.report) == ("2026-11-10", RunStatus.MADE, None)
    assert sorted(Report.objects.values_list("name", flat=True)) == [
        "GPU usage 2026-11-11",
        "GPU usage 2026-11-12",
    ]
    assert stored_files() == sorted(f"{run.report.pk}.csv" for run in (second, third))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_racing_for_one_period_make_one_report(
    viewer, org, clock, no_queue, monkeypatch
):
    schedule = make_schedule(viewer)
    clock("2026-11-11T06:00")
    # Both workers have found the period unrun before either claims it.
    barrier = threading.Barrier(2, timeout=10)
    make_run = scheduling.make_run

    def make_run_together(*args, **kwargs):
        barrier.wait()
        return make_run(*args, **kwargs)

    monkeypatch.setattr("reports.scheduling.make_run", make_run_together)
    outcomes = []

    def worker():
        try:
            outcomes.append([run.period_label for run in run_due_schedules()])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [[], ["2026-11-10"]]
    assert runs(schedule) == [("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10")]
    assert list(Report.objects.values_list("name", flat=True)) == ["GPU usage 2026-11-10"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scheduler_killed_holding_a_claim_leaves_the_period_to_the_next(
    viewer, org, clock, no_queue, media, tmp_path
):
    schedule = make_schedule(viewer)
    marker = tmp_path / "claimed"
    stalled = start_worker(
        media,
        "-m",
        "tests.reports.stalled_scheduler",
        "2026-11-11T06:00+00:00",
        STALLED_MARKER=str(marker),
    )
    try:
        deadline = wall_clock.monotonic() + 60
        while not marker.exists() and stalled.poll() is None and wall_clock.monotonic() < deadline:
            wall_clock.sleep(0.1)  # waiting for the process to get there, not for the clock
        assert marker.exists(), "the scheduler did not reach the report's creation"
    finally:
        kill(stalled)  # mid-transaction, without warning
    assert (ScheduleRun.objects.count(), Report.objects.count()) == (0, 0)

    clock("2026-11-11T06:00")
    run_due_schedules()
    assert runs(schedule) == [("2026-11-10", RunStatus.MADE, "GPU usage 2026-11-10")]
