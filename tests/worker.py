"""A real `qcluster` beside the tests, on the test database: for behaviour that depends on a
worker process (the ORM broker, heartbeats, a killed build, a page watching a build)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from reports.models import Report

BASE_DIR = Path(settings.BASE_DIR)
HEARTBEAT_TIMEOUT = 2


def database_url() -> str:
    """The test database, for the worker process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(media: Path, *command: str, workers: int = 1, **settings: str) -> subprocess.Popen:
    """Run `python COMMAND...` with the test's database and files; SETTINGS are more
    environment variables."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reports_site.settings",
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(media),
        "Q_WORKERS": str(workers),
        "REPORT_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT),
        "SLOW_BUILD_SECONDS": "60",
        **settings,
    }
    return subprocess.Popen(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env=env,
        # Kept beside the test's files, for a failure to be looked into.
        stdout=(media.parent / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
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
