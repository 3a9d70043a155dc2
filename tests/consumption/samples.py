"""Writing usage samples for tests, the way an import leaves them: samples plus fresh rollups."""

from datetime import datetime
from decimal import Decimal

from consumption import rollups
from consumption.models import DAY_SECONDS, MICRO, UsageSample
from reports_site.tenancy.models import NodePool, Project

GIB = 1 << 30


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def sample(
    project: Project,
    start: str,
    duration: int,
    *,
    workload: str = "job",
    gpu: str | int = 0,
    idle: str | int = 0,
    cpu: str | int = 0,
    cpu_used: str | int = 0,
    memory: int = 0,
    memory_used: int = 0,
    nodepool: str = "default",
) -> UsageSample:
    """An unsaved sample; amounts as people write them (GPUs, cores, bytes)."""
    pool, _ = NodePool.objects.get_or_create(cluster=project.cluster, name=nodepool)
    return UsageSample(
        project=project,
        nodepool=pool,
        workload=workload,
        start_epoch=epoch(start),
        duration_seconds=duration,
        gpu_allocated_micro=int(Decimal(str(gpu)) * MICRO),
        gpu_idle_micro=int(Decimal(str(idle)) * MICRO),
        cpu_allocated_micro=int(Decimal(str(cpu)) * MICRO),
        cpu_used_micro=int(Decimal(str(cpu_used)) * MICRO),
        memory_allocated_bytes=memory,
        memory_used_bytes=memory_used,
    )


def save_samples(*samples: UsageSample) -> None:
    """Store samples and refresh the rollups of the days they touch."""
    UsageSample.objects.bulk_create(samples)
    rollups.refresh_around((s.project_id, s.start_epoch // DAY_SECONDS) for s in samples)
