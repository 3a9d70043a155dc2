"""Scratch usage data for the benchmark commands: generated, then loaded through the real
`import_usage` command in its own process, so that its speed and memory are its own."""

import itertools
import math
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

from reports_site.tenancy.models import Tenant

from .synthetic import synthetic_placements, usage_rows, write_csv

END = datetime(2026, 1, 1, tzinfo=UTC)  # the scratch data ends here


@dataclass
class LoadedUsage:
    samples: int
    csv_megabytes: float
    generated_seconds: float
    import_seconds: float
    import_peak_megabytes: float
    import_output: str


PROJECTS_HELP = "projects per department (2 clusters x 5 departments)"


def load_scratch_usage(tenant: Tenant, samples: int, days: int, projects: int) -> LoadedUsage:
    """About `samples` hourly samples over `days` days ending at END, of workloads in `projects`
    projects per department (PROJECTS_HELP): enough workloads running all the time to make
    them, or, when that would leave some project and node pool empty, one workload in each,
    running in spells."""
    placements = synthetic_placements(clusters=2, departments=5, projects=projects)
    hours = days * 24
    workloads = max(math.ceil(samples / hours), len(placements))
    busy = min(1.0, samples / (workloads * hours))
    start = END - timedelta(days=days)
    rows = usage_rows(placements, workloads=workloads, start=start, hours=hours, busy=busy)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "usage.csv"
        started = time.perf_counter()
        with path.open("w", encoding="utf-8", newline="") as file:
            written = write_csv(itertools.islice(rows, samples), file)
        generated = time.perf_counter() - started
        size = path.stat().st_size / 1e6
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
    return LoadedUsage(
        samples=written,
        csv_megabytes=size,
        generated_seconds=generated,
        import_seconds=elapsed,
        import_peak_megabytes=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        import_output=process.stdout.strip(),
    )


def settle_after_load(*models) -> None:
    """On PostgreSQL, what autovacuum does soon after a bulk load into these models' tables,
    and would otherwise do while they are being measured: fresh planner statistics, and a
    visibility map that lets counts and other reads use index-only scans."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
