"""`worker_health`: exits 1 when work has waited longer than the stall time with no task finished
and no build's heartbeat meanwhile (a liveness probe restarts the workers then), 0 otherwise."""

import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_q.models import Task

from reports.models import Report, ReportStatus
from reports.services import create_report
from tests.reports.conftest import MARCH
from tests.worker import BASE_DIR, database_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]
STALL = 120


def health(**options) -> str:
    out = StringIO()
    call_command("worker_health", f"--stall-seconds={STALL}", stdout=out, **options)
    return out.getvalue()


def later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


@pytest.fixture
def waiting(viewer, usage) -> Report:
    return create_report(viewer, name="Waiting", start=MARCH[0], end=MARCH[1])


def finished_task(seconds_ago: float) -> None:
    stopped = timezone.now() - timedelta(seconds=seconds_ago)
    Task.objects.create(
        id="a" * 32, name="done", func="math.floor", started=stopped, stopped=stopped, success=True
    )


def test_nothing_waiting_is_healthy(db):
    assert health().startswith("working: 0 task(s) queued, 0 report(s) pending")


def test_work_waiting_less_than_the_stall_time_is_healthy(waiting):
    with later(STALL - 1):
        assert health().startswith("working: 0 task(s) queued, 1 report(s) pending")


def test_work_waiting_longer_with_nothing_done_is_a_stall(waiting):
    with later(STALL + 1), pytest.raises(CommandError) as stalled:
        health()
    assert stalled.value.returncode == 1
    assert str(stalled.value) == (
        "STALLED: 0 task(s) queued, 1 report(s) pending, the oldest waiting since 121 s ago; "
        "last task or build activity never"
    )


def test_a_task_finished_lately_means_the_workers_work(waiting):
    with later(STALL + 1):
        finished_task(seconds_ago=STALL - 1)
        assert health().startswith("working:")
        Task.objects.update(stopped=timezone.now() - timedelta(seconds=STALL + 1))
        with pytest.raises(CommandError):
            health()


def test_a_build_beating_its_heartbeat_means_the_workers_work(waiting):
    with later(STALL + 1):
        Report.objects.filter(pk=waiting.pk).update(
            status=ReportStatus.PROCESSING, heartbeat_at=timezone.now()
        )
        create_report(waiting.created_by_user, name="Next", start=MARCH[0], end=MARCH[1])
        Report.objects.filter(name="Next").update(status_updated_at=waiting.status_updated_at)
        assert health().startswith("working: 0 task(s) queued, 1 report(s) pending")


def test_a_bad_stall_time_is_refused(db):
    with pytest.raises(CommandError, match="--stall-seconds must be a positive number"):
        call_command("worker_health", "--stall-seconds=0")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_exit_code_is_what_a_probe_reads(viewer, usage):
    report = create_report(viewer, name="Waiting", start=MARCH[0], end=MARCH[1])

    def probe() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "worker_health", "--stall-seconds=60"],
            cwd=BASE_DIR,
            env={"DATABASE_URL": database_url(), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )

    assert probe().returncode == 0
    Report.objects.filter(pk=report.pk).update(
        status_updated_at=timezone.now() - timedelta(seconds=61)
    )
    stalled = probe()
    assert stalled.returncode == 1
    assert "STALLED: 0 task(s) queued, 1 report(s) pending" in stalled.stderr
