"""`manage.py benchmark_consumption --samples N`: time the import and the aggregation at scale."""

import statistics
import time
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from consumption.aggregation import consumption_rows, raw_sample_sums
from consumption.benchmarking import END, PROJECTS_HELP, load_scratch_usage
from consumption.measures import Segment
from reports_site.tenancy.models import Project, Tenant


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
        parser.add_argument("--projects", type=int, default=5, help=PROJECTS_HELP)
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
        loaded = load_scratch_usage(tenant, samples, days, projects)
        self.stdout.write(
            f"generated {loaded.samples:,} samples ({loaded.csv_megabytes:,.0f} MB of CSV) "
            f"in {loaded.generated_seconds:.1f} s"
        )
        self.stdout.write(f"import: {loaded.import_output}")
        self.stdout.write(
            f"import: {loaded.samples / loaded.import_seconds:,.0f} samples/s "
            f"({loaded.import_seconds:.1f} s), peak memory of the importing process "
            f"{loaded.import_peak_megabytes:,.0f} MB"
        )

    def _aggregate(self, tenant: Tenant, repeat: int) -> None:
        projects = Project.objects.for_tenant(tenant)
        self.stdout.write(
            f"{'period':<8} {'segment':<11} {'rows':>5} {'rollups ms':>11} {'raw ms':>9} "
            f"{'speed-up':>9}"
        )
        for days in (30, 365):
            start = END - timedelta(days=days)
            for group_by in Segment.values:
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
