"""`manage.py benchmark_reports`: reports built end to end by a real worker, timed from creation
to Ready, with the worker's peak memory."""

import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from consumption.benchmarking import END, PROJECTS_HELP, load_scratch_usage, settle_after_load
from consumption.buckets import Bucket
from consumption.measures import Segment
from consumption.models import UsageRollup, UsageSample
from reports.models import Report, ReportStatus
from reports.services import create_report
from reports_site.tenancy.models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Role,
    ScopeType,
    Tenant,
    User,
)


class Command(BaseCommand):
    help = (
        "Load N usage samples into a scratch tenant (as benchmark_consumption does), start a "
        "real `qcluster` on this database, then create 30-day and 365-day reports of every "
        "segment, and a 365-day report of projects per day, and time each from creation to "
        "Ready. Prints the median and worst times and the worker's peak memory after each "
        "kind, then removes the scratch data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--samples", type=int, required=True, metavar="N")
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--repeat", type=int, default=3, help="reports per kind (median)")
        parser.add_argument("--projects", type=int, default=5, help=PROJECTS_HELP)

    def handle(self, *args, samples: int, days: int, repeat: int, projects: int, **options) -> None:
        logging.getLogger("django-q").setLevel(logging.WARNING)  # one line per queued task
        slug = f"benchmark-{uuid.uuid4().hex[:8]}"
        tenant = Tenant.objects.create(slug=slug, name="Benchmark (scratch)")
        analyst = User.objects.create_user(f"analyst@{slug}.example", tenant=tenant)
        AccessRule.objects.create(
            tenant=tenant,
            user=analyst,
            role=Role.objects.get(name="Viewer"),
            scope_type=ScopeType.TENANT,
        )
        self.stdout.write(f"database: {connection.vendor}; scratch tenant {slug}")
        worker = None
        try:
            loaded = load_scratch_usage(tenant, samples, days, projects)
            self.stdout.write(
                f"loaded {loaded.samples:,} samples of "
                f"{Project.objects.for_tenant(tenant).count():,} projects "
                f"in {loaded.import_seconds:.1f} s"
            )
            # The load made the org tree too: thousands of projects a report joins.
            settle_after_load(UsageSample, UsageRollup, Project, Department, Cluster, NodePool)
            worker = _start_worker()
            time.sleep(3)  # let the cluster start
            self.stdout.write(
                f"{'period':<8} {'segment':<11} {'rows per':<16} {'median s':>9} {'worst s':>8} "
                f"{'peak MB':>8}"
            )
            kinds = [
                (days, group_by, None, "UTC") for days in (30, 365) for group_by in Segment.values
            ]
            # Days of UTC, then of a zone whose midnights fall inside UTC days.
            kinds += [(365, Segment.PROJECT, Bucket.DAY, zone) for zone in ("UTC", "Asia/Kolkata")]
            for period, group_by, bucket, zone in kinds:
                timings = [
                    self._time_report(analyst, period, group_by, bucket, zone, run)
                    for run in range(repeat)
                ]
                rows_per = f"{bucket} {zone}" if bucket else "period"
                self.stdout.write(
                    f"{period:>3}-day  {group_by:<11} {rows_per:<16} "
                    f"{statistics.median(timings):>9.2f} {max(timings):>8.2f} "
                    f"{_peak_mb(worker):>8,.0f}"
                )
            self.stdout.write("peak MB: the largest peak resident size of a worker process so far")
        finally:
            if worker is not None:
                _stop(worker)
            Report.objects.filter(tenant=tenant).delete()
            tenant.delete()
            self.stdout.write("removed the scratch data")

    def _time_report(
        self, analyst: User, period: int, group_by: str, bucket: str | None, zone: str, run: int
    ) -> float:
        """Seconds from creating a report (as `analyst`) to its being Ready."""
        started = time.perf_counter()
        report = create_report(
            analyst,
            name=f"{period}-day {group_by} {bucket} {zone} {run} {uuid.uuid4().hex[:6]}",
            start=END - timedelta(days=period),
            end=END,
            group_by=group_by,
            bucket=bucket,
            time_zone=zone,
        )
        deadline = started + 300
        while True:
            status = Report.objects.filter(pk=report.pk).values_list("status", flat=True)[0]
            if status == ReportStatus.READY:
                return time.perf_counter() - started
            if status == ReportStatus.FAILED or time.perf_counter() > deadline:
                raise CommandError(f"report {report.pk} ended {status}")
            time.sleep(0.01)


def _start_worker() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "Q_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _peak_mb(worker: subprocess.Popen) -> float:
    """The largest peak resident size (VmHWM) among the cluster's processes."""
    peak_kb = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            if os.getpgid(int(status.parent.name)) != worker.pid:
                continue
        except (OSError, ProcessLookupError):
            continue
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak_kb = max(peak_kb, int(line.split()[1]))
    return peak_kb / 1024


def _stop(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
