"""Processes of a running cluster killed without warning, idle and busy ones: `run_worker`
brings the cluster back by itself, and every report ends Ready with exactly one file (spec 4.2).
Without it, a cluster whose waiting worker was killed runs nothing ever again (django-q2 issue
23): the first test shows that."""

import os
import signal
import time
from datetime import timedelta

import psutil
import pytest
import time_machine
from django.utils import timezone
from django_q.models import OrmQ

from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import sweep_lost_builds
from tests.reports.conftest import MARCH
from tests.worker import start_worker, stop, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SLOW = {
    "SLOW_BUILD_SECONDS": "2",
    "WORKER_CHECK_SECONDS": "1",
    "WORKER_PROBE_SECONDS": "5",
}


def cluster_processes(root: int, timeout: float = 30) -> dict[str, list[psutil.Process]]:
    """The cluster's processes below `root` by role, read from the titles django-q2 gives them
    (workers end in `idle` or `processing ...`), once both workers are up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        roles = {"idle": [], "busy": [], "pusher": [], "monitor": []}
        for process in psutil.Process(root).children(recursive=True):
            try:
                title = " ".join(process.cmdline()).strip()
            except psutil.NoSuchProcess:
                continue
            if title.endswith(" idle"):
                roles["idle"].append(process)
            elif " processing " in title:
                roles["busy"].append(process)
            elif title.endswith(" pusher"):
                roles["pusher"].append(process)
            elif title.endswith(" monitor"):
                roles["monitor"].append(process)
        if len(roles["idle"]) + len(roles["busy"]) == 2 and roles["busy"]:
            return roles
        time.sleep(0.1)
    raise AssertionError(f"the cluster's processes did not show up in {timeout} s")


def kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        os.kill(process.pid, signal.SIGKILL)


def report_files(media) -> list[str]:
    return sorted(path.name for path in (media / "reports").iterdir())


VICTIMS = {
    "the idle worker": lambda roles: roles["idle"][:1],
    "the busy worker": lambda roles: roles["busy"][:1],
    "both workers": lambda roles: roles["idle"][:1] + roles["busy"][:1],
    "the monitor": lambda roles: roles["monitor"],
    "the pusher": lambda roles: roles["pusher"],
}


def test_run_worker_stops_with_its_cluster(media):
    supervisor = start_worker(media, "manage.py", "run_worker", workers=2)
    deadline = time.monotonic() + 30
    while len(processes := psutil.Process(supervisor.pid).children(recursive=True)) < 6:
        assert time.monotonic() < deadline, "the cluster did not start"
        time.sleep(0.1)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=40) == 0
    assert not [process for process in processes if process.is_running()]


def test_without_run_worker_a_killed_idle_worker_stops_the_cluster(viewer, usage, media):
    cluster = start_worker(media, "-m", "tests.reports.slow_worker", workers=2, **SLOW)
    try:
        first = create_report(viewer, name="Before", start=MARCH[0], end=MARCH[1])
        wait_for(first, ReportStatus.PROCESSING)
        kill(VICTIMS["the idle worker"](cluster_processes(cluster.pid)))
        wait_for(first, ReportStatus.READY)  # the busy worker finishes its build...
        later = create_report(viewer, name="After", start=MARCH[0], end=MARCH[1])
        with pytest.raises(AssertionError, match="still Pending"):
            wait_for(later, ReportStatus.READY, timeout=20)  # ...and then nothing runs
    finally:
        stop(cluster)


@pytest.mark.parametrize("victims", VICTIMS)
def test_run_worker_recovers_from_killed_processes(victims, viewer, usage, media, capsys):
    supervisor = start_worker(
        media, "-m", "tests.reports.slow_worker", "run_worker", workers=2, **SLOW
    )
    try:
        first = create_report(viewer, name="Before", start=MARCH[0], end=MARCH[1])
        wait_for(first, ReportStatus.PROCESSING)  # one worker busy with it, the other idle
        kill(VICTIMS[victims](cluster_processes(supervisor.pid)))
        killed = time.monotonic()
        later = [
            create_report(viewer, name=f"After {number}", start=MARCH[0], end=MARCH[1])
            for number in range(3)
        ]
        wait_for(later[0], ReportStatus.READY, ReportStatus.FAILED, timeout=120)
        working_again = time.monotonic() - killed
        for report in [first, *later]:
            wait_for(report, ReportStatus.READY, ReportStatus.FAILED, timeout=120)
        settled = time.monotonic() - killed
    finally:
        stop(supervisor)
    reports = Report.objects.order_by("name")
    assert [(r.name, r.status) for r in reports] == [
        ("After 0", "Ready"),
        ("After 1", "Ready"),
        ("After 2", "Ready"),
        ("Before", "Ready"),
    ]
    assert report_files(media) == sorted(f"{r.pk}.csv" for r in reports)
    with capsys.disabled():
        print(
            f"\n[{victims} killed] a new report Ready after {working_again:.1f} s, "
            f"every report settled after {settled:.1f} s"
        )


def test_a_build_no_worker_could_read_is_queued_again_and_built(viewer, usage, media, settings):
    """A worker that cannot read the queued task (another SECRET_KEY) drops it: the report
    would stay Pending forever, but the sweeper of lost builds queues it again."""
    settings.REPORT_QUEUE_TIMEOUT_SECONDS = 1
    report = create_report(viewer, name="Unreadable", start=MARCH[0], end=MARCH[1])
    stranger = start_worker(media, "manage.py", "qcluster", SECRET_KEY="not this site's key")
    try:
        deadline = time.monotonic() + 30
        while OrmQ.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(stranger)
    assert not OrmQ.objects.exists()  # the task is gone...
    report.refresh_from_db()
    assert report.status == ReportStatus.PENDING  # ...and the report still waits for it
    with time_machine.travel(timezone.now() + timedelta(seconds=2), tick=False):
        assert sweep_lost_builds() == "1 re-queued, 0 failed"
    worker = start_worker(media, "manage.py", "qcluster")
    try:
        report = wait_for(report, ReportStatus.READY, ReportStatus.FAILED)
    finally:
        stop(worker)
    assert (report.status, report.times_queued) == (ReportStatus.READY, 2)
