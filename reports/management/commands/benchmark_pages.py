"""`manage.py benchmark_pages`: server time of the Reports table at scale, with the Django admin's
report list over the same data as the baseline."""

import math
import random
import statistics
import time
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from consumption.benchmarking import settle_after_load
from consumption.measures import Segment
from reports.admin import ReportAdmin
from reports.models import BUILDING_MESSAGE, QUEUED_MESSAGE, Report, ReportStatus
from reports_site.paging import AdminPaginator
from reports_site.tenancy.models import AccessRule, Role, ScopeType, Tenant, User

BATCH = 5_000
WARM_UP = 3
TABLE_PAGE_SIZE = 25  # the table's default page size
SEARCH = "quarterly"  # in about one name in twelve and one description in eight

TOPICS = (
    "GPU usage",
    "Quarterly consumption",
    "Idle GPUs",
    "Memory by project",
    "Research spend",
    "Night shift",
    "Inference fleet",
    "Training runs",
    "Node pool load",
    "Department totals",
    "CPU headroom",
    "Cluster costs",
)
DESCRIPTIONS = (
    "",
    "",
    "Quarterly figures for the board.",
    "Allocation against use, per project.",
    "Sent to finance at the end of the month.",
    "Which teams leave their GPUs idle?",
    "Baseline before the new A100 node pool.",
    "Charge-back for the research department.",
)
# Mostly Ready, as in a tenant that has used the page for a while.
STATUSES = (ReportStatus.READY, ReportStatus.FAILED, ReportStatus.PENDING, ReportStatus.PROCESSING)
STATUS_WEIGHTS = (90, 6, 2, 2)
MESSAGES = {
    ReportStatus.READY: "",
    ReportStatus.FAILED: "The report could not be built. Try creating it again.",
    ReportStatus.PENDING: QUEUED_MESSAGE,
    ReportStatus.PROCESSING: BUILDING_MESSAGE,
}
PERIOD_DAYS = (1, 7, 30, 90, 365)


class Command(BaseCommand):
    help = (
        "Fill scratch tenants with reports (100,000 each, 1,000,000 in all by default), then time "
        "the Reports table (first page, a filtered page, a sorted page, a search, the last page) "
        "as a tenant-wide Viewer of the first tenant sees it, and the Django admin's report list "
        "with the same parameters as the baseline. Requests are made in process with the test "
        "client; prints the median and p95 server time of each, then removes the scratch data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reports", type=int, default=100_000, metavar="N", help="per tenant")
        parser.add_argument(
            "--tenants", type=int, default=10, help="scratch tenants; the table shows the first"
        )
        parser.add_argument(
            "--repeat", type=int, default=30, help=f"requests per case, after {WARM_UP} warm-up"
        )
        parser.add_argument("--keep", action="store_true", help="keep the scratch data")

    def handle(self, *args, reports: int, tenants: int, repeat: int, keep: bool, **options) -> None:
        if reports < 1 or tenants < 1 or repeat < 1:
            raise CommandError("--reports, --tenants and --repeat must be positive.")
        viewer_role = Role.objects.get(name="Viewer")
        slug = f"benchmark-{uuid.uuid4().hex[:8]}"
        scratch = [
            Tenant.objects.create(slug=f"{slug}-{n}", name=f"Benchmark (scratch) {n}")
            for n in range(1, tenants + 1)
        ]
        viewer = User.objects.create_user(f"viewer@{slug}.example", tenant=scratch[0])
        AccessRule.objects.create(
            tenant=scratch[0],
            user=viewer,
            role=viewer_role,
            scope_type=ScopeType.TENANT,
        )
        operator = User.objects.create_superuser(f"operator@{slug}.example")
        self.stdout.write(
            f"database: {connection.vendor}; measured with DEBUG off; scratch tenants "
            f"{slug}-1 to {slug}-{tenants}"
        )
        table, admin = Client(), Client()
        try:
            self._fill(scratch, reports)
            table.force_login(viewer)
            admin.force_login(operator)
            self._measure(table, admin, scratch[0], repeat)
        finally:
            # Logging out deletes the sessions that force_login stored.
            table.logout()
            admin.logout()
            if keep:
                self.stdout.write(f"kept the scratch data; the table's user is {viewer.email}")
            else:
                started = time.perf_counter()
                for tenant in scratch:
                    Report.objects.filter(tenant=tenant).delete()
                Tenant.objects.filter(pk__in=[tenant.pk for tenant in scratch]).delete()
                operator.delete()
                elapsed = time.perf_counter() - started
                self.stdout.write(f"removed the scratch data in {elapsed:.1f} s")

    def _fill(self, scratch: list[Tenant], reports: int) -> None:
        started = time.perf_counter()
        batch = []
        for report in _reports(scratch, reports):
            batch.append(report)
            if len(batch) == BATCH:
                Report.objects.bulk_create(batch)
                batch = []
        Report.objects.bulk_create(batch)
        settle_after_load(Report)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"filled {len(scratch):,} tenants with {reports:,} reports each "
            f"({len(scratch) * reports:,} in all) in {elapsed:.1f} s"
        )

    def _measure(self, table: Client, admin: Client, tenant: Tenant, repeat: int) -> None:
        scoped = Report.objects.filter(tenant=tenant).count()
        everything = Report.objects.count()
        admin_per_page = ReportAdmin.list_per_page
        # The admin counts at most count_limit rows, so its last page ends at that row.
        admin_rows = min(everything, AdminPaginator.count_limit)
        cases = [
            ("first page", {}, {}),
            ("filtered", {"status": ReportStatus.FAILED}, {"status__exact": ReportStatus.FAILED}),
            ("sorted", {"sort": "name"}, {"o": "1"}),  # admin: 0 is the action checkbox
            ("search", {"q": SEARCH}, {"q": SEARCH}),
            (
                "last page",
                {"page": max(1, math.ceil(scoped / TABLE_PAGE_SIZE))},
                {"p": max(1, math.ceil(admin_rows / admin_per_page))},
            ),
        ]
        self.stdout.write(
            f"table: {scoped:,} reports of one tenant, {TABLE_PAGE_SIZE} a page, as its Viewer; "
            f"admin: all {everything:,} reports of every tenant, {admin_per_page} a page, as a "
            f"superuser; it counts at most {AdminPaginator.count_limit:,} rows, so its last page "
            f"ends at row {admin_rows:,}"
        )
        self.stdout.write(
            f"{repeat} requests per case after {WARM_UP} warm-up ones, timed in process; "
            "p95 by nearest rank"
        )
        self.stdout.write(
            f"{'case':<11} {'table median ms':>16} {'table p95 ms':>13} "
            f"{'admin median ms':>16} {'admin p95 ms':>13}"
        )
        table_url = reverse("reports:report_list")
        admin_url = reverse("admin:reports_report_changelist")
        # As in production (no query log), whatever DEBUG says; the test client's host, whatever
        # ALLOWED_HOSTS says; secure=True passes an HTTPS redirect.
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
            for name, table_params, admin_params in cases:
                table_ms = _timings(table, table_url, table_params, repeat)
                admin_ms = _timings(admin, admin_url, admin_params, repeat)
                self.stdout.write(
                    f"{name:<11} {statistics.median(table_ms):>16.1f} {_p95(table_ms):>13.1f} "
                    f"{statistics.median(admin_ms):>16.1f} {_p95(admin_ms):>13.1f}"
                )


def _reports(scratch: list[Tenant], per_tenant: int):
    """Unsaved reports, `per_tenant` of each tenant, in the order they would have been created
    over the last year by all tenants at once; the same ones on every run."""
    rng = random.Random(0)
    total = len(scratch) * per_tenant
    first = timezone.now() - timedelta(days=365)
    step = timedelta(days=365) / total
    creators = {
        tenant.pk: [f"analyst{n}@{tenant.slug}.example" for n in range(20)] for tenant in scratch
    }
    for index in range(total):
        tenant = scratch[index % len(scratch)]
        created_at = first + step * index
        end = created_at.replace(hour=0, minute=0, second=0, microsecond=0)
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        ready = status == ReportStatus.READY
        yield Report(
            tenant=tenant,
            # The number keeps names unique in the tenant, as the database requires.
            name=f"{rng.choice(TOPICS)} {end:%B %Y} #{index // len(scratch)}",
            description=rng.choice(DESCRIPTIONS),
            start=end - timedelta(days=rng.choice(PERIOD_DAYS)),
            end=end,
            group_by=rng.choice(Segment.values),
            created_by=rng.choice(creators[tenant.pk]),
            created_at=created_at,
            status=status,
            status_updated_at=created_at + timedelta(seconds=rng.randrange(1, 600)),
            status_message=MESSAGES[status],
            # No heartbeat on Processing rows, so that a sweeper never re-queues them.
            row_count=rng.randrange(1, 500) if ready else None,
            file_size=rng.randrange(200, 50_000) if ready else None,
        )


def _timings(client: Client, url: str, params: dict, repeat: int) -> list[float]:
    """Milliseconds per request, after the warm-up requests."""
    timings = []
    for run in range(WARM_UP + repeat):
        started = time.perf_counter()
        response = client.get(url, params, secure=True)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise CommandError(f"GET {url} {params} answered {response.status_code}")
        if run >= WARM_UP:
            timings.append(elapsed)
    return timings


def _p95(timings: list[float]) -> float:
    # Nearest rank: the smallest timing that at least 95% of the timings do not exceed.
    ordered = sorted(timings)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]
