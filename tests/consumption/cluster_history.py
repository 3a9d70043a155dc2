"""A small GPU cluster's Prometheus history, for the collector's tests.

The cluster is described in Python (`PODS`); `cluster_series` turns it into the series that
kube-state-metrics, cAdvisor and dcgm-exporter would have given, scraped every 60 s, and
`write_history` writes them as OpenMetrics. `expected_pod_hours` computes what each pod-hour is
worth from those very samples, in plain Python, without the collector: the running share is the
running samples × 60 / 3600, GPUs the request (or the fraction) × that share, idle GPUs the
device samples at 0 × 60 / 3600, CPU seconds the growth of each container's counter from the
previous hour's last sample to this hour's last, memory used the sum of samples × 60 / 3600.

Six hours straddling a UTC midnight a few days ago, so that a day slice holds three of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tests.prometheus import OpenMetricsWriter

HOUR = 3600
DAY = 86_400
SCRAPE = 60
GIB = 1 << 30
MIB = 1 << 20
# 21:00 UTC four days ago: hours 21, 22, 23 of one day, 0, 1, 2 of the next.
START = (int(time.time()) // DAY - 4) * DAY + 21 * HOUR
HOURS = [START + i * HOUR for i in range(6)]
END = START + 6 * HOUR  # no sample at or after this
MIDNIGHT = START + 3 * HOUR

PROJECT_LABEL = "runai/queue"
DEPARTMENT_LABEL = "team"
NODEPOOL_LABEL = "node-pool.example.com/name"  # label_node_pool_example_com_name

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
NODE_POOLS = {"node-a": "a100", "node-b": "h100", "node-c": "t4"}
NAMESPACE_LABELS = {
    "runai-vision": {"runai_queue": "vision", "team": "research"},
    "runai-nlp": {},  # project by prefix, department not labelled
    "ml-shared": {"runai_queue": "llm", "team": "training"},
    "sandbox": {},  # no label, no prefix: maps to no project
    "runai-reservation": {},
}


@dataclass(frozen=True)
class Container:
    name: str
    cpu: str  # cores requested, as written in the request
    memory: int  # bytes requested
    cpu_rate: Fraction  # cores used (quarters, so that every counter value is exact)
    memory_used: int  # bytes in use, give or take the minute's wobble
    gpus: int = 0


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node: str
    containers: tuple[Container, ...]
    created: int  # seconds after START
    running: tuple[int, int] | None  # [from, until) seconds after START; Succeeded after
    util: Callable[[int, int], int] = lambda device, t: 50  # device utilisation at t
    gpu_fraction: str | None = None
    project_label: str | None = None
    # Whose usage it is, by the rules, written down independently of the series.
    project: str | None = None
    department: str | None = None

    @property
    def gpus(self) -> int:
        return sum(c.gpus for c in self.containers)

    @property
    def devices(self) -> int:
        return 1 if self.gpu_fraction else self.gpus


def _idle_even_hours(device: int, t: int) -> int:
    return 0 if ((t - START) // HOUR) % 2 == 0 else 40 + device


def _device_zero_idle(device: int, t: int) -> int:
    return 0 if device == 0 else 30


def _idle_before_midnight(device: int, t: int) -> int:
    return 0 if t < MIDNIGHT else 20


def _idle_some_minutes(device: int, t: int) -> int:
    return 0 if (t // SCRAPE) % 3 == 0 else 75


def _one(name: str = "main", **fields) -> tuple[Container, ...]:
    defaults = {"cpu": "2", "memory": 8 * GIB, "cpu_rate": Fraction(3, 2), "memory_used": 5 * GIB}
    return (Container(name, **(defaults | fields)),)


PODS = (
    # Four whole GPUs, idle in the even hours.
    Pod(
        "runai-vision",
        "train-a",
        "node-a",
        _one(cpu="8", memory=32 * GIB, cpu_rate=Fraction(25, 4), memory_used=20 * GIB, gpus=4),
        created=0,
        running=(0, 6 * HOUR),
        util=_idle_even_hours,
        project="vision",
        department="research",
    ),
    # Two GPUs, two containers, Pending from hour 1 and Running from half past; its own label
    # names its project.
    Pod(
        "runai-vision",
        "train-b",
        "node-b",
        (
            Container("main", "4", 16 * GIB, Fraction(7, 2), 10 * GIB, gpus=2),
            Container("sidecar", "0.5", GIB, Fraction(1, 4), 300 * MIB),
        ),
        created=HOUR,
        running=(HOUR + 1800, 6 * HOUR),
        util=_device_zero_idle,
        project_label="audio",
        project="audio",
        department="research",
    ),
    # Half a GPU by annotation, no nvidia.com/gpu request; its device idle before midnight.
    Pod(
        "runai-nlp",
        "frac-c",
        "node-c",
        _one(cpu="1.5", memory=4 * GIB, cpu_rate=Fraction(1, 2), memory_used=3 * GIB),
        created=0,
        running=(0, 6 * HOUR),
        util=_idle_before_midnight,
        gpu_fraction="0.5",
        project="nlp",
        department=None,
    ),
    # Never scheduled: no usage at all.
    Pod(
        "runai-nlp",
        "pending-d",
        "",
        _one(gpus=1),
        created=0,
        running=None,
        project="nlp",
    ),
    # Run:ai's reservation pod, holding the fraction's device: nobody's usage.
    Pod(
        "runai-reservation",
        "runai-reservation-gpu-node-c-x7k2p",
        "node-c",
        _one(cpu="0.1", memory=100 * MIB, cpu_rate=Fraction(1, 4), memory_used=50 * MIB, gpus=1),
        created=0,
        running=(0, 6 * HOUR),
    ),
    # A namespace that maps to no project.
    Pod(
        "sandbox",
        "notebook-e",
        "node-a",
        _one(gpus=1),
        created=0,
        running=(0, 6 * HOUR),
    ),
    # Runs until 22 past the fourth hour (idle in its last minute), then Succeeded; idle one
    # minute in three.
    Pod(
        "ml-shared",
        "serve-f",
        "node-c",
        _one(cpu="3", memory=12 * GIB, cpu_rate=Fraction(9, 4), memory_used=7 * GIB, gpus=1),
        created=0,
        running=(0, 3 * HOUR + 1320),
        util=_idle_some_minutes,
        project="llm",
        department="training",
    ),
)

Points = list[tuple[int, float]]


@dataclass(frozen=True)
class HistorySeries:
    name: str
    kind: str  # "gauge" or "counter"
    labels: dict[str, str]
    points: Points


def _times(start: int, end: int) -> range:
    return range(START + start, min(START + end, END), SCRAPE)


def _phase(pod: Pod, t: int) -> str:
    if pod.running is None or t < START + pod.running[0]:
        return "Pending"
    return "Running" if t < START + pod.running[1] else "Succeeded"


def _running_times(pod: Pod) -> range:
    return _times(*pod.running) if pod.running else range(0)


def _cpu_counter(pod: Pod, container: Container) -> Points:
    """The counter from the container's start: rate × seconds run, a sample a minute."""
    times = _running_times(pod)
    return [(t, float(container.cpu_rate * (t - times.start + SCRAPE))) for t in times]


def _memory(container: Container) -> Callable[[int], int]:
    return lambda t: container.memory_used + ((t // SCRAPE) % 7) * MIB


def cluster_series(pods: Iterable[Pod] = PODS) -> list[HistorySeries]:
    """Every series of the history, families together."""
    pods = list(pods)
    families: dict[str, list[HistorySeries]] = {}

    def add(name: str, labels: dict[str, str], points: Points, kind: str = "gauge") -> None:
        families.setdefault(name, []).append(HistorySeries(name, kind, labels, points))

    for namespace, labels in NAMESPACE_LABELS.items():
        extra = {f"label_{k}": v for k, v in labels.items()}
        add("kube_namespace_labels", {"namespace": namespace} | extra, _const(_times(0, END), 1))
    for node, pool in NODE_POOLS.items():
        labels = {"node": node, "label_node_pool_example_com_name": pool, "label_zone": "z1"}
        add("kube_node_labels", labels, _const(_times(0, END), 1))

    for pod in pods:
        ids = {"namespace": pod.namespace, "pod": pod.name}
        alive = _times(pod.created, END)
        for phase in PHASES:
            points = [(t, 1 if _phase(pod, t) == phase else 0) for t in alive]
            add("kube_pod_status_phase", ids | {"phase": phase}, points)
        add("kube_pod_info", ids | {"node": pod.node, "host_ip": "10.0.0.1"}, _const(alive, 1))
        pod_labels = {"label_app": pod.name}
        if pod.project_label:
            pod_labels["label_runai_queue"] = pod.project_label
        add("kube_pod_labels", ids | pod_labels, _const(alive, 1))
        annotations = {"annotation_gpu_fraction": pod.gpu_fraction} if pod.gpu_fraction else {}
        add("kube_pod_annotations", ids | annotations, _const(alive, 1))
        for container in pod.containers:
            node = {"container": container.name, "node": pod.node}
            requests = [("cpu", "core", container.cpu), ("memory", "byte", container.memory)]
            if container.gpus:
                requests.append(("nvidia_com_gpu", "integer", container.gpus))
            for resource, unit, amount in requests:
                labels = ids | node | {"resource": resource, "unit": unit}
                add("kube_pod_container_resource_requests", labels, _const(alive, float(amount)))

        running = _running_times(pod)
        if not running:
            continue
        for container in pod.containers:
            labels = ids | {"container": container.name, "cpu": "total"}
            add(
                "container_cpu_usage_seconds_total", labels, _cpu_counter(pod, container), "counter"
            )
            used = _memory(container)
            add("container_memory_working_set_bytes", labels, [(t, used(t)) for t in running])
        # The pod's own cgroup and its pause container: they must not count.
        whole = Container("", "0", 0, sum(c.cpu_rate for c in pod.containers) + 1, 64 * GIB)
        pause = Container("POD", "0", 0, Fraction(1, 4), 700 * 1024)
        for extra in (whole, pause):
            labels = ids | {"container": extra.name, "cpu": "total"}
            add("container_cpu_usage_seconds_total", labels, _cpu_counter(pod, extra), "counter")
            used = _memory(extra)
            add("container_memory_working_set_bytes", labels, [(t, used(t)) for t in running])
        for device in range(pod.devices):
            labels = ids | {
                "container": pod.containers[0].name,
                "gpu": str(device),
                "UUID": f"GPU-{pod.node}-{device}",
                "modelName": "NVIDIA A100-SXM4-80GB",
                "Hostname": pod.node,
            }
            points = [(t, pod.util(device, t)) for t in running]
            add("DCGM_FI_DEV_GPU_UTIL", labels, points)
    return [series for family in families.values() for series in family]


def _const(times: range, value: float) -> Points:
    return [(t, value) for t in times]


def write_history(path: Path, pods: Iterable[Pod] = PODS) -> None:
    with OpenMetricsWriter(path) as om:
        for series in cluster_series(pods):
            if series.kind == "counter":
                om.counter(series.name, series.labels, series.points)
            else:
                om.gauge(series.name, series.labels, series.points)


# --- What each pod-hour is worth, from the samples ------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A pod-hour's amounts, exact (GPUs and cores as fractions, bytes as fractions)."""

    gpu_allocated: Fraction
    gpu_idle: Fraction
    cpu_allocated: Fraction
    cpu_used: Fraction
    memory_allocated: Fraction
    memory_used: Fraction

    def as_stored(self) -> tuple[int, int, int, int, int, int]:
        """In the units samples store, rounded half to even as the importer rounds."""
        gpu = round(self.gpu_allocated * 1_000_000)
        return (
            gpu,
            min(round(self.gpu_idle * 1_000_000), gpu),
            round(self.cpu_allocated * 1_000_000),
            round(self.cpu_used * 1_000_000),
            round(self.memory_allocated),
            round(self.memory_used),
        )


def _in(points: Points, hour: int) -> Points:
    return [(t, v) for t, v in points if hour <= t < hour + HOUR]


def expected_pod_hours(
    pods: Iterable[Pod] = PODS, hours: Iterable[int] = HOURS
) -> dict[tuple[str, str, int], Expected]:
    """(namespace, pod, hour) -> its amounts, for every pod Running in the hour (excluded and
    unmapped pods included: the caller decides what it expects of them)."""
    pods = {(p.namespace, p.name): p for p in pods}
    by_pod: dict[tuple[str, str], list[HistorySeries]] = {}
    for series in cluster_series(pods.values()):
        if "pod" in series.labels:
            key = (series.labels["namespace"], series.labels["pod"])
            by_pod.setdefault(key, []).append(series)

    expected = {}
    for key, pod in pods.items():
        series = by_pod[key]

        def of(name: str, **labels: str) -> list[HistorySeries]:
            return [
                s
                for s in series  # noqa: B023 (used at once)
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
            ]

        for hour in hours:
            (phase,) = of("kube_pod_status_phase", phase="Running")
            running = sum(1 for _, v in _in(phase.points, hour) if v == 1)
            if not running:
                continue
            share = Fraction(running * SCRAPE, HOUR)

            def requested(resource: str, hour: int = hour) -> Fraction:
                total = Fraction(0)
                for s in of("kube_pod_container_resource_requests", resource=resource):
                    values = [Fraction(v) for _, v in _in(s.points, hour)]
                    total += sum(values) / len(values)
                return total

            idle_samples = sum(
                1 for s in of("DCGM_FI_DEV_GPU_UTIL") for _, v in _in(s.points, hour) if v == 0
            )
            idle = Fraction(idle_samples * SCRAPE, HOUR)
            if pod.gpu_fraction:
                fraction = Fraction(pod.gpu_fraction)
                gpus, idle = fraction * share, fraction * idle
            else:
                gpus = requested("nvidia_com_gpu") * share
            cpu_seconds = Fraction(0)
            memory_samples = Fraction(0)
            for container in pod.containers:
                (counter,) = of("container_cpu_usage_seconds_total", container=container.name)
                now, before = _in(counter.points, hour), _in(counter.points, hour - HOUR)
                if now:
                    growth = Fraction(now[-1][1]) - (Fraction(before[-1][1]) if before else 0)
                    cpu_seconds += max(growth, Fraction(0))
                (memory,) = of("container_memory_working_set_bytes", container=container.name)
                memory_samples += sum(Fraction(v) for _, v in _in(memory.points, hour))
            expected[(*key, hour)] = Expected(
                gpu_allocated=gpus,
                gpu_idle=min(idle, gpus),
                cpu_allocated=requested("cpu") * share,
                cpu_used=cpu_seconds / HOUR,
                memory_allocated=requested("memory") * share,
                memory_used=memory_samples * SCRAPE / HOUR,
            )
    return expected
