"""Builds through a real `qcluster` process and the ORM broker, not sync mode: a report gets
built, and a worker killed in the middle of a build does not leave it Processing."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import sweep_stuck_builds
from tests.reports.conftest import MARCH

BASE_DIR = Path(settings.BASE_DIR)
HEARTBEAT_TIMEOUT = 2


def database_url() -> str:
    """The test database, for the worker process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(media: Path, *command: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reports_site.settings",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media),
        "Q_WORKERS": "1",
        "REPORT_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
        "SLOW_BUILD_SECONDS": "60",
    }
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so that it can be killed whole
    )


def stop(worker: subprocess.Popen) -> None:
    """Ask the cluster to stop; kill what is left of it if it takes too long."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
    kill(worker)


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL every process of the cluster, workers included."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def wait_for(report: Report, *statuses: str, timeout: float = 60) -> Report:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report.refresh_from_db()
        if report.status in statuses:
            return report
        time.sleep(0.2)
    raise AssertionError(f"report still {report.status} after {timeout} s")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestRealWorker:
    def test_a_worker_builds_the_report(self, viewer, usage, media):
        report = create_report(viewer, name="Built by a worker", start=MARCH[0], end=MARCH[1])
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            report = wait_for(report, ReportStatus.READY, ReportStatus.FAILED)
        finally:
            stop(worker)
        assert report.status == ReportStatus.READY
        assert report.row_count == 4
        assert (media / "reports" / f"{report.pk}.csv").read_text().startswith("Cluster,")

    def test_a_report_whose_worker_was_killed_is_rescued(self, viewer, usage, media, settings):
        settings.REPORT_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
        report = create_report(viewer, name="Interrupted", start=MARCH[0], end=MARCH[1])
        slow = start_worker(media, "-m", "tests.reports.slow_worker")
        try:
            wait_for(report, ReportStatus.PROCESSING)
        finally:
            kill(slow)  # the whole cluster, mid-build, without warning
        time.sleep(HEARTBEAT_TIMEOUT + 1)
        report.refresh_from_db()
        assert report.status == ReportStatus.PROCESSING  # nobody finished it...

        assert sweep_stuck_builds() == "1 re-queued, 0 failed"  # ...until the sweeper runs
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            report = wait_for(report, ReportStatus.READY, ReportStatus.FAILED)
        finally:
            stop(worker)
        assert report.status == ReportStatus.READY
        assert report.build_attempts == 2
        assert [p.name for p in (media / "reports").iterdir()] == [f"{report.pk}.csv"]
