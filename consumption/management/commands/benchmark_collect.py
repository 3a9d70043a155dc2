"""`manage.py benchmark_collect`: the usage collector's speed and memory against a real Prometheus
serving a synthetic cluster's history.

A developer tool: it borrows the test suite's Prometheus harness (tests/prometheus.py:
`build_blocks` and `PrometheusServer`), so it needs the dev dependencies and Debian's
`prometheus` package (prometheus and promtool), as `make test` does.
"""

import shutil
import tempfile
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumption.collect_benchmarking import (
    DAY,
    HOUR,
    NODEPOOL_LABEL,
    PROJECT_LABEL,
    SCRAPE,
    write_day,
)
from consumption.collector import Rules, ask, collect
from consumption.models import UsageSource
from consumption.prometheus import PrometheusClient
from reports_site.tenancy.models import Cluster, Tenant

TARGET = 10_000  # pod-hours a second

RULES = Rules(
    scrape_interval=SCRAPE,
    project_label=PROJECT_LABEL,
    namespace_prefix="runai-",
    nodepool_label=NODEPOOL_LABEL,
)


class _TimedClient(PrometheusClient):
    """Adds up the time in which some query_range was under way (Prometheus's evaluation, HTTP and
    reading the JSON): queries asked at once count once."""

    waited = 0.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._under_way = 0
        self._since = 0.0
        self._count_lock = threading.Lock()

    def query_range(self, *args, **kwargs):
        with self._count_lock:
            if not self._under_way:
                self._since = time.perf_counter()
            self._under_way += 1
        try:
            return super().query_range(*args, **kwargs)
        finally:
            with self._count_lock:
                self._under_way -= 1
                if not self._under_way:
                    self.waited += time.perf_counter() - self._since


class Command(BaseCommand):
    help = (
        "Write a synthetic cluster's Prometheus history (kube-state-metrics, cAdvisor, dcgm; "
        "60 s scrapes; see consumption/collect_benchmarking.py) as one OpenMetrics file per day, "
        "turn it into blocks with promtool, serve it with a real Prometheus, then time the "
        "collector over 1 day and over --days days: `ask` a day at a time (the queries and "
        "pod_hours, after one warm-up day), the peak memory of that (tracemalloc, a second "
        "pass), and the full `collect` into a scratch tenant, which is removed afterwards. "
        "A developer tool: it uses the test suite's Prometheus harness (tests/prometheus.py), "
        "so it needs the dev dependencies and Debian's prometheus package (prometheus, promtool)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pods", type=int, default=200, help="pods at a time (200)")
        parser.add_argument("--days", type=int, default=7, help="days of history (7)")
        parser.add_argument(
            "--keep",
            metavar="DIR",
            help="write the history (OpenMetrics files and blocks) here and keep it; by default "
            "a temporary directory, removed at the end",
        )

    def handle(self, *args, pods: int, days: int, keep: str | None, **options) -> None:
        if pods < 1 or days < 1:
            raise CommandError("--pods and --days must be at least 1.")
        missing = [p for p in ("prometheus", "promtool") if shutil.which(p) is None]
        if missing:
            raise CommandError(
                f"{' and '.join(missing)} not found: install Debian's prometheus package "
                "(apt-get install prometheus, as root), as `make test` does."
            )
        try:
            from tests.prometheus import PrometheusServer, build_blocks
        except ImportError as error:
            raise CommandError(
                f"The test suite's Prometheus harness cannot be imported ({error}): install the "
                'dev dependencies (pip install -e ".[dev]").'
            ) from error

        if keep:
            folder = Path(keep)
            folder.mkdir(parents=True, exist_ok=True)
            if any(folder.iterdir()):
                raise CommandError(f"{folder} is not empty; --keep wants an empty or new folder.")
        else:
            folder = Path(tempfile.mkdtemp(prefix="benchmark-collect-"))
        try:
            first_day = (int(time.time()) // DAY - days - 1) * DAY
            self._write_history(folder, pods, days, first_day, build_blocks, keep=bool(keep))
            server = PrometheusServer(
                folder / "data", folder, lookback_delta=f"{SCRAPE - 1}s", ready_timeout=120
            )
            server.start()
            try:
                self._measure(server.url, days, first_day)
            finally:
                server.stop()
        finally:
            if keep:
                self.stdout.write(f"kept the history in {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)

    def _write_history(
        self, folder: Path, pods: int, days: int, first_day: int, build_blocks, keep: bool
    ) -> None:
        """A file a day, each turned into blocks (two promtools at a time) while the next is
        written; the blocks of each day are built apart, then moved into one data folder."""
        data = folder / "data"
        data.mkdir()
        started = time.perf_counter()
        writing = 0.0
        lines = 0

        def build(day: int, path: Path) -> None:
            blocks = folder / f"blocks-{day}"
            build_blocks(path, blocks)
            for block in blocks.iterdir():
                block.rename(data / block.name)
            blocks.rmdir()
            if not keep:
                path.unlink()

        with ThreadPoolExecutor(max_workers=2) as pool:
            builds = []
            for day in range(days):
                path = folder / f"day-{day}.om"
                written = time.perf_counter()
                lines += write_day(path, pods, first_day + day * DAY, first_day)
                writing += time.perf_counter() - written
                builds.append(pool.submit(build, day, path))
            for done in builds:
                done.result()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"history: {pods} pods, {days} days from {_day(first_day)}, {lines:,} samples; "
            f"written in {writing:.1f} s ({writing / days:.1f} s a day), "
            f"blocks ready after {elapsed:.1f} s"
        )

    def _measure(self, url: str, days: int, first_day: int) -> None:
        client = _TimedClient(url, timeout=300)
        ask(client, RULES, first_day, first_day + DAY - HOUR)  # warm-up, not counted
        spans = sorted({1, days})
        rows = []
        for span in spans:
            client.waited = 0.0
            started = time.perf_counter()
            found = sum(len(self._ask_day(client, first_day + d * DAY)) for d in range(span))
            elapsed = time.perf_counter() - started
            rows.append(("ask", span, found, elapsed, client.waited))
        peaks = {span: _peak_megabytes(client, first_day, span) for span in spans}
        for span in spans:
            rows.append(("collect", span, *self._collect(client, first_day, span)))

        self.stdout.write(
            f"{'measured':<8} {'days':>4} {'pod-hours':>10} {'seconds':>8} {'pod-hours/s':>12} "
            f"{'in Prometheus':>14} {'peak MB':>8}"
        )
        for kind, span, found, elapsed, waited in rows:
            peak = f"{peaks[span]:.1f}" if kind == "ask" else "-"
            self.stdout.write(
                f"{kind:<8} {span:>4} {found:>10,} {elapsed:>8.2f} {found / elapsed:>12,.0f} "
                f"{waited / elapsed:>14.0%} {peak:>8}"
            )
        self.stdout.write(
            f"target: at least {TARGET:,} pod-hours/s (ask and collect: Prometheus's time "
            "included); peak MB (tracemalloc peak of asking the days one after the other) the "
            f"same for 1 and {days} days"
        )

    def _ask_day(self, client: PrometheusClient, day_start: int) -> list:
        return ask(client, RULES, day_start, day_start + DAY - HOUR).pod_hours

    def _collect(self, client: _TimedClient, first_day: int, span: int) -> tuple:
        """collect() of `span` days into a source of a scratch tenant: (samples, s, waited s)."""
        slug = f"benchmark-{uuid.uuid4().hex[:8]}"
        tenant = Tenant.objects.create(slug=slug, name="Benchmark (scratch)")
        try:
            cluster = Cluster.objects.create(tenant=tenant, name="synthetic")
            source = UsageSource.objects.create(
                tenant=tenant,
                cluster=cluster,
                name="synthetic",
                url=client.base_url,
                project_label=RULES.project_label,
                namespace_prefix=RULES.namespace_prefix,
                nodepool_label=RULES.nodepool_label,
                start=_moment(first_day),
            )
            client.waited = 0.0
            started = time.perf_counter()
            done = collect(
                source, _moment(first_day), _moment(first_day + span * DAY), client=client
            )
            return done.samples, time.perf_counter() - started, client.waited
        finally:
            tenant.delete()


def _peak_megabytes(client: PrometheusClient, first_day: int, span: int) -> float:
    """The tracemalloc peak of asking `span` days one after the other, keeping only counts."""
    tracemalloc.start()
    try:
        for d in range(span):
            ask(client, RULES, first_day + d * DAY, first_day + (d + 1) * DAY - HOUR)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _day(epoch: int) -> str:
    return f"{_moment(epoch):%Y-%m-%d}"
