"""`manage.py benchmark_consumption --samples N`: time the import and the aggregation at scale."""

import itertools
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from consumption.aggregation import Segment, consumption_rows, raw_sample_sums
from consumption.synthetic import synthetic_placements, usage_rows, write_csv
from reports_site.tenancy.models import Project, Tenant

END = datetime(2026, 1, 1, tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Generate N usage samples (a year of hourly samples by default) in a scratch tenant, "
        "time their import through `import_usage` (samples per second, peak memory of the "
        "importing process), then time 30-day and 365-day aggregations for every segment, with "
        "the rollups and straight from the raw samples (one GROUP BY) as the baseline. The "
        "scratch tenant and its data are removed at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--samples", type=int, required=True, metavar="N")
        parser.add_argument("--days", type=int, default=365, help="days the samples span")
        parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
        parser.add_argument(
            "--projects", type=int, default=5, help="projects per department (2 clusters x 5)"
        )
        parser.add_argument(
            "--keep", action="store_true", help="keep the scratch tenant and its data"
        )

    def handle(
        self, *args, samples: int, days: int, repeat: int, projects: int, keep: bool, **options
    ) -> None:
        if samples < 1 or days < 30:
            raise CommandError("--samples must be positive and --days at least 30.")
        slug = f"benchmark-{uuid.uuid4().hex[:8]}"
        tenant = Tenant.objects.create(slug=slug, name="Benchmark (scratch)")
        self.stdout.write(f"database: {connection.vendor}; scratch tenant {slug}")
        try:
            self._import(tenant, samples, days, projects)
            self._aggregate(tenant, repeat)
        finally:
            if keep:
                self.stdout.write(f"kept the scratch tenant {slug}")
            else:
                started = time.perf_counter()
                tenant.delete()
                elapsed = time.perf_counter() - started
                self.stdout.write(f"removed the scratch data in {elapsed:.1f} s")

    def _import(self, tenant: Tenant, samples: int, days: int, projects: int) -> None:
        placements = synthetic_placements(clusters=2, departments=5, projects=projects)
        hours = days * 24
        workloads = math.ceil(samples / hours)
        start = END - timedelta(days=days)
        rows = usage_rows(placements, workloads=workloads, start=start, hours=hours, busy=1.0)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "usage.csv"
            started = time.perf_counter()
            with path.open("w", encoding="utf-8", newline="") as file:
                written = write_csv(itertools.islice(rows, samples), file)
            self.stdout.write(
                f"generated {written:,} samples ({path.stat().st_size / 1e6:,.0f} MB of CSV) "
                f"in {time.perf_counter() - started:.1f} s"
            )
            # The real command, in its own process, so that its peak memory is its own.
            started = time.perf_counter()
            process = subprocess.run(
                [sys.executable, "manage.py", "import_usage", str(path), "--tenant", tenant.slug],
                cwd=settings.BASE_DIR,
                capture_output=True,
                text=True,
            )
            elapsed = time.perf_counter() - started
        if process.returncode:
            raise CommandError(f"import_usage failed: {process.stderr.strip()}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        self.stdout.write(f"import: {process.stdout.strip()}")
        self.stdout.write(
            f"import: {written / elapsed:,.0f} samples/s ({elapsed:.1f} s), "
            f"peak memory of the importing process {peak_mb:,.0f} MB"
        )

    def _aggregate(self, tenant: Tenant, repeat: int) -> None:
        projects = Project.objects.for_tenant(tenant)
        self.stdout.write(
            f"{'period':<8} {'segment':<11} {'rows':>5} {'rollups ms':>11} {'raw ms':>9} "
            f"{'speed-up':>9}"
        )
        for days in (30, 365):
            start = END - timedelta(days=days)
            for group_by in Segment.CHOICES:
                result = consumption_rows(
                    tenant=tenant, start=start, end=END, group_by=group_by, projects=projects
                )
                fast = _median_ms(
                    repeat,
                    lambda s=start, g=group_by: consumption_rows(
                        tenant=tenant, start=s, end=END, group_by=g, projects=projects
                    ),
                )
                raw = _median_ms(
                    max(1, repeat // 2),
                    lambda s=start, g=group_by: raw_sample_sums(
                        tenant=tenant, start=s, end=END, group_by=g
                    ),
                )
                self.stdout.write(
                    f"{days:>3}-day  {group_by:<11} {len(result):>5} {fast:>11.1f} {raw:>9.1f} "
                    f"{raw / fast:>8.1f}x"
                )


def _median_ms(repeat: int, run) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)
