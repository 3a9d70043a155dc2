"""Usage samples (what one workload held and used during one interval) and their daily rollups.

Amounts are stored as integers so that every sum is exact on every database and the rollups give
the very same totals as the raw samples: GPUs and CPU cores in millionths, memory in whole bytes,
times in whole Unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from reports_site.tenancy.models import NodePool, Project

MICRO = 1_000_000  # GPUs and CPU cores are stored in millionths
DAY_SECONDS = 86_400
MAX_DURATION_SECONDS = DAY_SECONDS
# Memory amounts are summed in two integer parts, whole MiB and the bytes beyond, so that a sum of
# byte-seconds over a long period never overflows a 64-bit integer (SQLite has nothing wider).
MIB = 1 << 20


class UsageSampleQuerySet(models.QuerySet):
    def for_tenant(self, tenant) -> UsageSampleQuerySet:
        return self.filter(project__cluster__tenant=tenant)


class UsageSample(models.Model):
    """What one workload held and used during [start, start + duration)."""

    # Samples come by the million, so their foreign keys carry no index of their own (the
    # identity index leads with the project) and no database constraint (checking it costs more
    # than the insert). The importer takes both ids from the org tree in the same transaction,
    # and Django's on_delete still removes a deleted project's or node pool's samples.
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="usage_samples",
        db_index=False,
        db_constraint=False,
    )
    nodepool = models.ForeignKey(
        NodePool,
        on_delete=models.CASCADE,
        related_name="usage_samples",
        verbose_name="node pool",
        db_index=False,
        db_constraint=False,
    )
    workload = models.CharField(max_length=200)
    start_epoch = models.BigIntegerField("start (Unix seconds)")
    duration_seconds = models.PositiveIntegerField()
    gpu_allocated_micro = models.BigIntegerField("GPUs allocated (millionths)")
    gpu_idle_micro = models.BigIntegerField("GPUs idle (millionths)")
    cpu_allocated_micro = models.BigIntegerField("CPU cores allocated (millionths)")
    cpu_used_micro = models.BigIntegerField("CPU cores used (millionths)")
    memory_allocated_bytes = models.BigIntegerField("CPU memory allocated (bytes)")
    memory_used_bytes = models.BigIntegerField("CPU memory used (bytes)")

    objects = UsageSampleQuerySet.as_manager()

    class Meta:
        verbose_name = "usage sample"
        constraints = [
            # A sample's identity (spec 3.1: cluster, project, workload, start; the project
            # implies the cluster). Importing it again replaces it. Its index, by project and
            # time, also serves every time-range read of a project's samples.
            models.UniqueConstraint(
                fields=["project", "start_epoch", "workload"], name="usage_sample_identity"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__gte=1, duration_seconds__lte=MAX_DURATION_SECONDS),
                name="usage_sample_duration_in_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    gpu_idle_micro__gte=0,
                    gpu_idle_micro__lte=F("gpu_allocated_micro"),
                    cpu_allocated_micro__gte=0,
                    cpu_used_micro__gte=0,
                    memory_allocated_bytes__gte=0,
                    memory_used_bytes__gte=0,
                ),
                name="usage_sample_amounts_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workload} at {self.start:%Y-%m-%d %H:%M:%S}Z"

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_epoch, tz=UTC)

    @property
    def gpu_allocated(self) -> Decimal:
        return Decimal(self.gpu_allocated_micro) / MICRO

    @property
    def gpu_idle(self) -> Decimal:
        return Decimal(self.gpu_idle_micro) / MICRO

    @property
    def cpu_allocated_cores(self) -> Decimal:
        return Decimal(self.cpu_allocated_micro) / MICRO

    @property
    def cpu_used_cores(self) -> Decimal:
        return Decimal(self.cpu_used_micro) / MICRO


class UsageRollup(models.Model):
    """The samples of one project and node pool, summed over one UTC day: each measure is
    amount × seconds of overlap with that day. Kept exact by `consumption.rollups.refresh`."""

    # The identity index below, led by the project, serves as the project's index too.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    nodepool = models.ForeignKey(NodePool, on_delete=models.CASCADE, related_name="+")
    day = models.IntegerField("day (days since 1970-01-01)")
    gpu_allocated = models.BigIntegerField("GPU-seconds allocated (millionths)")
    gpu_idle = models.BigIntegerField("GPU-seconds idle (millionths)")
    cpu_allocated = models.BigIntegerField("core-seconds allocated (millionths)")
    cpu_used = models.BigIntegerField("core-seconds used (millionths)")
    memory_allocated_mib = models.BigIntegerField("MiB-seconds allocated (whole MiB part)")
    memory_allocated_rest = models.BigIntegerField("byte-seconds allocated (part below 1 MiB)")
    memory_used_mib = models.BigIntegerField("MiB-seconds used (whole MiB part)")
    memory_used_rest = models.BigIntegerField("byte-seconds used (part below 1 MiB)")

    class Meta:
        # Reports and refreshes both read a range of days of some projects.
        constraints = [
            models.UniqueConstraint(
                fields=["project", "day", "nodepool"], name="usage_rollup_identity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.project} / {self.nodepool.name} on day {self.day}"
