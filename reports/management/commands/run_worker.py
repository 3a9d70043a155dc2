"""The task workers, kept working: django-q2's `qcluster` in a child process, watched and
restarted when it stops taking work.

A worker process that dies while it waits for a task dies holding the lock of the cluster's
shared task queue; the worker that the cluster starts in its place then waits for that lock
forever, and so does every other worker once its current task is done (django-q2 issue 23).
The cluster still looks alive and even keeps queueing its schedules, but runs nothing. Only a
new cluster helps, so this command watches its cluster's processes and restarts the cluster when
one of them died and the rest take no work, or when work waits with nothing done (see
reports.queue.worker_health). It also runs the sweepers itself, so that rescuing builds never
depends on the cluster it rescues them from.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
import threading

import psutil
from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone
from django_q.tasks import async_task, result

from reports import tasks
from reports.queue import worker_health

log = logging.getLogger("reports.run_worker")

STOP_GRACE_SECONDS = 30  # for running tasks to finish when the command is asked to stop
BURST_GAP_SECONDS = 0.3
QCLUSTER = [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"]


class Command(BaseCommand):
    help = (
        "Runs the task workers (django-q2's qcluster) and restarts them when a worker process "
        "dies and the rest take no work, or when work waits with nothing done. Also runs the "
        "sweepers of stuck and lost builds. `make run` uses it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check-seconds", type=float, default=settings.WORKER_CHECK_SECONDS)
        parser.add_argument("--probe-seconds", type=float, default=settings.WORKER_PROBE_SECONDS)
        parser.add_argument("--stall-seconds", type=int, default=settings.WORKER_STALL_SECONDS)

    def handle(self, *args, check_seconds, probe_seconds, stall_seconds, **options):
        self.stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.check_seconds, self.probe_seconds = check_seconds, probe_seconds
        self.stall_seconds = stall_seconds
        while not self.stopping.is_set():
            cluster = Cluster()
            reason = self.watch(cluster)
            if self.stopping.is_set():
                cluster.stop(grace=STOP_GRACE_SECONDS)
                break
            log.error("Restarting the task workers: %s", reason)
            cluster.stop(grace=0)
            # What the stopped cluster had taken from the queue is lost with it.
            log.info("Lost builds: %s", tasks.sweep_lost_builds(taken_before=timezone.now()))

    def watch(self, cluster: Cluster) -> str:
        """Return why the cluster must be restarted, or "" once the command is told to stop."""
        probed = set()
        while not self.stopping.wait(self.check_seconds):
            if cluster.exit_code() is not None:
                return f"the cluster exited with code {cluster.exit_code()}"
            self.sweep()
            replacements = cluster.replacements() - probed
            if replacements and not self.takes_work():
                return "one of its processes died, and since then the cluster takes no work"
            probed |= replacements
            health = worker_health(self.stall_seconds, since=cluster.started_at)
            if not health.healthy:
                return health.describe()
        return ""

    def sweep(self) -> None:
        for sweeper in (tasks.sweep_stuck_builds, tasks.sweep_lost_builds):
            outcome = sweeper()
            if not outcome.startswith("0 re-queued, 0 failed"):
                log.warning("%s: %s", sweeper.__name__, outcome)

    def takes_work(self) -> bool:
        """Queue a task that does nothing and wait for a worker to run it."""
        task_id = async_task("reports.tasks.ping", task_name="run_worker probe")
        return result(task_id, wait=int(self.probe_seconds * 1000)) == "pong"


class Cluster:
    """`manage.py qcluster` as a child process."""

    def __init__(self):
        self.process = subprocess.Popen(QCLUSTER)
        self.started_at = timezone.now()
        log.info("Task workers started (qcluster, process %s)", self.process.pid)

    def exit_code(self) -> int | None:
        return self.process.poll()

    def replacements(self) -> set[int]:
        """The processes that the cluster's sentinel started in place of others: a worker, the
        monitor or the pusher that died (or a worker recycled or stopped at its timeout). The
        sentinel starts its first ones in one burst, within milliseconds; a replacement comes
        later, after a pause (its guard loop looks every half second)."""
        try:
            (sentinel,) = psutil.Process(self.process.pid).children()
            started = sorted((child.create_time(), child.pid) for child in sentinel.children())
            previous = sentinel.create_time()
        except (ValueError, psutil.NoSuchProcess):  # starting, or stopped
            return set()
        found = set()
        for created, pid in started:
            if found or created - previous > BURST_GAP_SECONDS:
                found.add(pid)
            previous = created
        return found

    def stop(self, grace: float) -> None:
        """Ask the cluster to stop (it lets running tasks finish); kill what is left after
        `grace` seconds. A jammed cluster never stops by itself."""
        descendants = self._descendants()
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace or 1)
        for process in descendants:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def _descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return psutil.Process(self.process.pid).children(recursive=True)
        return []
