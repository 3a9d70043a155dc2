"""Realistic made-up usage, for the demo data and the benchmarks: hourly samples of workloads with
fractional GPUs, idle spells, and CPU and memory use below and above what was allocated."""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TextIO

from reports_site.tenancy.models import Tenant

from .models import GIB
from .parsing import FIELDS

GPU_SIZES = [Decimal("0.25"), Decimal("0.5"), Decimal(1), Decimal(1), Decimal(2), Decimal(4), 8]


@dataclass(frozen=True)
class Placement:
    """Where a workload runs."""

    cluster_id: uuid.UUID
    cluster: str
    nodepool: str
    department: str
    project: str


def placements_of(tenant: Tenant) -> list[Placement]:
    """Every (project, node pool) of a tenant's existing org tree."""
    from reports_site.tenancy.models import NodePool, Project

    pools: dict[int, list[str]] = {}
    for cluster_id, name in NodePool.objects.for_tenant(tenant).values_list("cluster_id", "name"):
        pools.setdefault(cluster_id, []).append(name)
    return [
        Placement(
            project.cluster.uuid, project.cluster.name, pool, project.department.name, project.name
        )
        for project in Project.objects.for_tenant(tenant).select_related("cluster", "department")
        for pool in sorted(pools.get(project.cluster_id, ["default"]))
    ]


def synthetic_placements(clusters: int, departments: int, projects: int) -> list[Placement]:
    """A made-up org tree: `departments` per cluster, `projects` per department, three pools."""
    return [
        Placement(
            uuid.uuid5(uuid.NAMESPACE_URL, f"benchmark-cluster-{c}"),
            f"cluster-{c}",
            pool,
            f"department-{d}",
            f"project-{c}-{d}-{p}",
        )
        for c in range(clusters)
        for d in range(departments)
        for p in range(projects)
        for pool in ("default", "a100", "h100")
    ]


def usage_rows(
    placements: list[Placement],
    *,
    workloads: int,
    start: datetime,
    hours: int,
    busy: float = 0.7,
    seed: int = 0,
) -> Iterator[list[str]]:
    """Hourly samples of `workloads` workloads over `hours` hours from `start`, as CSV cells in
    the order of `parsing.FIELDS`. Each workload runs in `busy` of the hours (1.0: every hour, so
    exactly workloads × hours samples), in spells, at a steady allocation. A workload's allocation
    and its first hours are the same whatever `hours` is and whichever workloads come before it."""
    for index in range(workloads):
        place = placements[index % len(placements)]
        name = f"{place.project}-job-{index}"
        # Its own generator, seeded with its identity; its attributes drawn before any hour's.
        rng = random.Random(f"{seed}/{place.cluster_id}/{name}")
        gpus = Decimal(rng.choice(GPU_SIZES))
        cores = rng.choice([4, 8, 16, 32, 64])
        memory = rng.choice([16, 32, 64, 128, 256]) * GIB
        running = rng.random() < busy
        for hour in range(hours):
            if busy < 1.0 and rng.random() < 0.1:  # spells of about ten hours
                running = rng.random() < busy
            if not running:
                continue
            idle = rng.choice([0, 0, Decimal("0.25"), Decimal("0.5"), 1])  # share of GPUs idle
            cpu_used = Decimal(rng.randint(5, 130)) / 100  # usage may exceed allocation
            memory_used = Decimal(rng.randint(20, 110)) / 100
            moment = start + timedelta(hours=hour)
            yield [
                str(place.cluster_id),
                place.cluster,
                place.nodepool,
                place.department,
                place.project,
                name,
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "3600",
                str(gpus),
                str(gpus * idle),
                str(cores),
                str(cores * cpu_used),
                str(memory),
                str(int(memory * memory_used)),
            ]


def write_csv(rows: Iterator[list[str]], out: TextIO) -> int:
    """Write rows as a usage CSV with its header; return how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def last_days(days: int, now: datetime | None = None) -> tuple[datetime, int]:
    """The start (a UTC midnight) and length in hours of the last `days` whole days up to now."""
    now = now or datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    hours = int((now - start).total_seconds() // 3600)
    return start, hours
