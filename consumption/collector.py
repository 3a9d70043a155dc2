"""Collecting usage from a cluster's Prometheus: one usage sample per pod per hour.

What one pod-hour is worth comes from kube-state-metrics, cAdvisor and dcgm-exporter (see
PROMETHEUS.md). A day, or some whole hours of one day, is asked with one `query_range` per
expression, evaluated at each hour's last second (h + 3599) over `[3599s]`, which holds exactly
the samples of [h, h + 3600). `pod_hours` turns the answers into pod-hours without any I/O;
`collect` asks, computes and writes day by day, each day in one transaction, asking for the next
day while it writes one.

Prometheus evaluates each query on one core, so a day's queries are asked at once, and the one
that evaluates a subquery at every scrape (by far the dearest) in slices of the day's hours.
"""

from __future__ import annotations

import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from .importing import COLLECTED_COLUMNS, BatchWriter, ImportResult, OrgTree
from .measures import AMOUNT_FIELDS
from .models import DAY_SECONDS, HOUR_SECONDS, MICRO, UsageSample, UsageSource
from .parsing import MAX_NAME_LENGTH, RowError, SampleRow
from .prometheus import PrometheusClient, PrometheusError, Series

DEFAULT = "default"
GPU_FRACTION_ANNOTATION = "gpu-fraction"
# cAdvisor also reports the pod's own cgroup (container="") and its pause container ("POD").
_REAL_CONTAINERS = 'container!="",container!="POD"'
QUERY_THREADS = 4  # queries asked of Prometheus at once
_SLICED = frozenset({"idle"})  # asked in QUERY_THREADS slices of the hours, each on its own
_LOCK_CLASS = 31_416  # the advisory lock space of collections (the importer's is 31_415)


def sanitise(key: str) -> str:
    """A label or annotation key as kube-state-metrics names it: runai/queue -> runai_queue."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", key)


@dataclass(frozen=True)
class Rules:
    """How one source's pods are read: its scrape interval and how pods map to org units."""

    scrape_interval: int = 60
    project_label: str = "runai/queue"
    namespace_prefix: str = "runai-"
    department_label: str = ""
    nodepool_label: str = ""
    excluded_namespaces: frozenset[str] = frozenset({"runai-reservation"})

    @classmethod
    def of(cls, source: UsageSource) -> Rules:
        return cls(
            scrape_interval=source.scrape_interval_seconds,
            project_label=source.project_label,
            namespace_prefix=source.namespace_prefix,
            department_label=source.department_label,
            nodepool_label=source.nodepool_label,
            excluded_namespaces=frozenset(source.excluded_namespaces),
        )

    def queries(self) -> dict[str, str]:
        """The PromQL of each answer `pod_hours` reads, by name."""
        d = self.scrape_interval
        project = "label_" + sanitise(self.project_label)
        namespace_labels = [project]
        if self.department_label:
            namespace_labels.append("label_" + sanitise(self.department_label))
        cpu = f"container_cpu_usage_seconds_total{{{_REAL_CONTAINERS}}}"
        queries = {
            "running": "sum by (namespace, pod) (sum_over_time("
            'kube_pod_status_phase{phase="Running"}[3599s]))',
            "fraction": "max by (namespace, pod, annotation_gpu_fraction) (max_over_time("
            'kube_pod_annotations{annotation_gpu_fraction!=""}[3599s]))',
            # Device-samples at 0, with the pod's labels as the exporter (or the scrape) gave them.
            "idle": "sum by (namespace, pod, exported_namespace, exported_pod) (count_over_time("
            f"(DCGM_FI_DEV_GPU_UTIL == 0)[3599s:{d}s]))",
            # Each container's counter growth since the previous hour's last sample (or since 0
            # for a container that started this hour): nothing lost or counted twice.
            "cpu_seconds": f"sum by (namespace, pod) (clamp_min(last_over_time({cpu}[3599s]) - "
            f"last_over_time({cpu}[3599s] offset 3600s), 0) or last_over_time({cpu}[3599s]))",
            "memory_used": "sum by (namespace, pod) (sum_over_time(container_memory_working_set_"
            f"bytes{{{_REAL_CONTAINERS}}}[3599s]))",
            "pod_project": f"max by (namespace, pod, {project}) (max_over_time(kube_pod_labels"
            f'{{{project}!=""}}[3599s]))',
            "namespace_labels": f"max by (namespace, {', '.join(namespace_labels)}) ("
            "max_over_time(kube_namespace_labels[3599s]))",
        }
        for resource in ("nvidia_com_gpu", "cpu", "memory"):
            queries[f"request_{resource}"] = (
                "sum by (namespace, pod) (avg_over_time(kube_pod_container_resource_requests"
                f'{{resource="{resource}"}}[3599s]))'
            )
        if self.nodepool_label:
            pool = "label_" + sanitise(self.nodepool_label)
            queries["pod_node"] = (
                'max by (namespace, pod, node) (max_over_time(kube_pod_info{node!=""}[3599s]))'
            )
            queries["node_pool"] = (
                f'max by (node, {pool}) (max_over_time(kube_node_labels{{{pool}!=""}}[3599s]))'
            )
        return queries


class PodHour(
    NamedTuple(
        "PodHour",
        [
            ("namespace", str),
            ("pod", str),
            ("start_epoch", int),
            ("project", str),
            ("department", str | None),
            ("nodepool", str),
            *AMOUNT_FIELDS,
        ],
    )
):
    """One pod's usage in one hour, its amounts (`gpu_allocated_micro` to `memory_used_bytes`)
    in the units samples store. `department` is None when no label names it: the project's
    department in the cluster, else default, is decided on writing."""

    __slots__ = ()

    def amounts(self) -> tuple[int, ...]:
        """The amounts the measures sum, in their order (the order samples store them)."""
        return self[-len(AMOUNT_FIELDS) :]


@dataclass
class PodHours:
    """The pod-hours of some hours, and the pods left out (as (namespace, pod))."""

    pod_hours: list[PodHour] = field(default_factory=list)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    unmapped: set[tuple[str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def pod_hours(rules: Rules, answers: dict[str, list[Series]]) -> PodHours:
    """The pod-hours in Prometheus's answers to `rules.queries()`: a pod counts in each hour in
    which it was Running, each amount a time average over the whole hour."""
    result = PodHours()
    scrape_share = Fraction(rules.scrape_interval, HOUR_SECONDS)  # of an hour, a sample's worth
    project_key = "label_" + sanitise(rules.project_label)
    department_key = "label_" + sanitise(rules.department_label) if rules.department_label else ""
    by_pod = _by_pod_and_hour
    running = by_pod(answers["running"], result)
    requests = {r: by_pod(answers[f"request_{r}"], result) for r in ("nvidia_com_gpu", "cpu")}
    memory_requests = by_pod(answers["request_memory"], result)
    idle = by_pod(answers["idle"], result, exported=True)
    cpu_seconds = by_pod(answers["cpu_seconds"], result)
    memory_used = by_pod(answers["memory_used"], result)
    fractions = _labels_by_hour(
        answers["fraction"], ("namespace", "pod"), "annotation_gpu_fraction"
    )
    pod_projects = _labels_by_hour(answers["pod_project"], ("namespace", "pod"), project_key)
    namespace_projects = _labels_by_hour(answers["namespace_labels"], ("namespace",), project_key)
    departments = (
        _labels_by_hour(answers["namespace_labels"], ("namespace",), department_key)
        if department_key
        else {}
    )
    if rules.nodepool_label:
        pool_key = "label_" + sanitise(rules.nodepool_label)
        pod_nodes = _labels_by_hour(answers["pod_node"], ("namespace", "pod"), "node")
        node_pools = _labels_by_hour(answers["node_pool"], ("node",), pool_key)
    else:
        pod_nodes = node_pools = {}

    for (namespace, pod), hours in sorted(running.items()):
        if namespace in rules.excluded_namespaces:
            result.excluded.add((namespace, pod))
            continue
        if len(pod) > MAX_NAME_LENGTH:
            result.warnings.append(
                f"pod {namespace}/{pod} skipped: its name is longer than {MAX_NAME_LENGTH}"
            )
            continue
        key = (namespace, pod)
        for hour, samples_running in sorted(hours.items()):
            if samples_running <= 0:
                continue
            project = pod_projects.get((key, hour)) or namespace_projects.get(((namespace,), hour))
            if (
                not project
                and rules.namespace_prefix
                and namespace.startswith(rules.namespace_prefix)
            ):
                project = namespace[len(rules.namespace_prefix) :]
            if not project or len(project) > MAX_NAME_LENGTH:
                result.unmapped.add(key)
                continue
            # The share of the hour it ran, and of the hour its GPUs were at 0 (device-hours).
            share = min(samples_running * scrape_share, 1)
            gpus = requests["nvidia_com_gpu"].get(key, {}).get(hour, 0)
            idle_share = idle.get(key, {}).get(hour, 0) * scrape_share
            fraction_text = fractions.get((key, hour))
            if fraction_text is not None:
                fraction = _fraction(fraction_text)
                if fraction is None:
                    result.warnings.append(
                        f"pod {namespace}/{pod}: gpu-fraction {fraction_text!r} is not a number "
                        "above 0 and at most 1; its GPUs are not counted"
                    )
                    gpus = idle_share = 0
                else:
                    gpus, idle_share = fraction, fraction * idle_share
            node = pod_nodes.get((key, hour))
            nodepool = node_pools.get(((node,), hour)) if node else None
            department = departments.get(((namespace,), hour)) if departments else None
            gpu_micro = _rounded(gpus, share, MICRO)
            cpu_seconds_used = cpu_seconds.get(key, {}).get(hour, 0)
            result.pod_hours.append(
                PodHour(
                    namespace=namespace,
                    pod=pod,
                    start_epoch=hour,
                    project=project,
                    department=department or None,
                    nodepool=nodepool or DEFAULT,
                    gpu_allocated_micro=gpu_micro,
                    gpu_idle_micro=min(_rounded(idle_share, MICRO), gpu_micro),
                    cpu_allocated_micro=_rounded(
                        requests["cpu"].get(key, {}).get(hour, 0), share, MICRO
                    ),
                    cpu_used_micro=_rounded(cpu_seconds_used, MICRO, divisor=HOUR_SECONDS),
                    memory_allocated_bytes=_rounded(
                        memory_requests.get(key, {}).get(hour, 0), share
                    ),
                    memory_used_bytes=_rounded(memory_used.get(key, {}).get(hour, 0), scrape_share),
                )
            )
    return result


def _rounded(*factors: Fraction | int, divisor: int = 1) -> int:
    """The product of `factors` over `divisor`, rounded half to even as the importer rounds
    (as round() rounds a Fraction), worked out in integers: several times quicker than
    multiplying Fractions."""
    numerator, denominator = 1, divisor
    for factor in factors:
        numerator *= factor.numerator
        denominator *= factor.denominator
    whole, rest = divmod(numerator, denominator)
    if 2 * rest > denominator or (2 * rest == denominator and whole % 2):
        whole += 1
    return whole


@lru_cache(maxsize=16_384)
def _exact(value: float) -> Fraction:
    """The number Prometheus wrote: its text is the shortest that gives this float. (Cached:
    requests, counts and labels' 1 repeat hour after hour.)"""
    return Fraction(repr(value))


def _fraction(text: str) -> Fraction | None:
    try:
        fraction = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        return None
    return fraction if 0 < fraction <= 1 else None


def _hour(timestamp: int) -> int:
    """The hour a point evaluated at its last second (h + 3599) describes."""
    return timestamp - (HOUR_SECONDS - 1)


def _by_pod_and_hour(
    series: list[Series], result: PodHours, exported: bool = False
) -> dict[tuple[str, str], dict[int, Fraction]]:
    """Values by (namespace, pod) and hour; with `exported`, exported_namespace/exported_pod
    name the pod when the scrape did not honour the exporter's labels."""
    values: dict[tuple[str, str], dict[int, Fraction]] = defaultdict(dict)
    for one in series:
        labels = one.labels
        if exported and labels.get("exported_pod"):
            key = (labels.get("exported_namespace", ""), labels["exported_pod"])
        else:
            key = (labels.get("namespace", ""), labels.get("pod", ""))
        if not key[1]:
            continue
        hours = values[key]
        for timestamp, value in one.points:
            if not math.isfinite(value) or value < 0:
                # What no exporter should give; written, it would break the sample's checks.
                result.warnings.append(
                    f"pod {key[0]}/{key[1]}: {value} at {_moment(timestamp):%Y-%m-%d %H:%M:%S} "
                    "UTC ignored (not a finite number of at least 0)"
                )
                continue
            hour = _hour(timestamp)
            if hour in hours:  # two series of one pod (exported labels and not)
                hours[hour] += _exact(value)
            else:
                hours[hour] = _exact(value)
    return values


def _labels_by_hour(
    series: list[Series], keys: tuple[str, ...], label: str
) -> dict[tuple[tuple[str, ...], int], str]:
    """A label's value by the `keys` labels and hour; the least value when it changed within
    the hour, so that the answer does not depend on the series' order."""
    values: dict[tuple[tuple[str, ...], int], str] = {}
    for one in series:
        value = one.labels.get(label, "")
        if not value:
            continue
        key = tuple(one.labels.get(k, "") for k in keys)
        for timestamp, _ in one.points:
            slot = (key, _hour(timestamp))
            if slot not in values or value < values[slot]:
                values[slot] = value
    return values


def ask(client: PrometheusClient, rules: Rules, first_hour: int, last_hour: int) -> PodHours:
    """The pod-hours of the hours first_hour..last_hour (unix seconds, one UTC day at most): one
    query_range per expression (or per slice of the hours), one point per hour, all at once."""
    if last_hour - first_hour >= DAY_SECONDS or first_hour % HOUR_SECONDS:
        raise ValueError("ask() takes whole hours of at most one day")
    queries = rules.queries()
    hours = range(first_hour, last_hour + 1, HOUR_SECONDS)
    pool = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="prometheus")
    try:
        asked: list[tuple[str, Future[list[Series]]]] = []
        for name, promql in queries.items():
            for part in _slices(hours, QUERY_THREADS if name in _SLICED else 1):
                start = _moment(part[0] + HOUR_SECONDS - 1)
                end = _moment(part[-1] + HOUR_SECONDS - 1)
                future = pool.submit(client.query_range, promql, start, end, HOUR_SECONDS)
                asked.append((name, future))
        answers: dict[str, list[Series]] = {name: [] for name in queries}
        for name, future in asked:  # the slices of one query hold different hours: just joined
            answers[name] += future.result()
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, what is not asked yet never is
    return pod_hours(rules, answers)


def _slices(hours: range, parts: int) -> list[range]:
    """`hours` cut into at most `parts` runs of consecutive hours, as even as can be."""
    size = -(-len(hours) // parts)
    return [hours[i : i + size] for i in range(0, len(hours), size)]


def _moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


# --- Writing ---------------------------------------------------------------------------------


@dataclass
class Collection:
    """What `collect` wrote."""

    hours: int = 0
    samples: int = 0
    replaced: int = 0  # samples of this source deleted before writing (re-collected hours)
    excluded: set[tuple[str, str]] = field(default_factory=set)
    unmapped: set[tuple[str, str]] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


def client_for(source: UsageSource) -> PrometheusClient:
    return PrometheusClient(source.url, token=source.token(), ca_file=source.ca_file or None)


def last_complete_hour(source: UsageSource, now: datetime) -> datetime:
    """The end of the last hour that ended at least the source's lag ago."""
    epoch = _epoch(now) - source.lag_seconds
    return _moment(epoch - epoch % HOUR_SECONDS)


@contextmanager
def collection_lock(source: UsageSource) -> Iterator[bool]:
    """Whether this process may collect the source: False while another run holds it.

    A PostgreSQL session lock, so that overlapping runs of one source never happen; on SQLite,
    which writes one transaction at a time, always True (collect's writes still serialise)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, source.pk])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, source.pk])


def day_slices(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """[first hour, end) in unix seconds for each UTC day that [start, end) touches."""
    first, last = _epoch(start), _epoch(end)
    if first % HOUR_SECONDS or last % HOUR_SECONDS:
        raise ValueError(f"collect whole UTC hours, not {start} to {end}")
    slices = []
    while first < last:
        until = min((first // DAY_SECONDS + 1) * DAY_SECONDS, last)
        slices.append((first, until))
        first = until
    return slices


def collect(
    source: UsageSource,
    start: datetime,
    end: datetime,
    client: PrometheusClient | None = None,
    now: Callable[[], datetime] = timezone.now,
) -> Collection:
    """Collects the hours [start, end) of `source`, a UTC day at a time, each day in one
    transaction that replaces everything the source wrote for those hours. A failure leaves the
    days not finished untouched, records the error on the source and is raised again."""
    slices = day_slices(start, end)  # a caller's mistake, not the source's: not recorded
    collection = Collection()
    if not slices:
        return collection
    rules = Rules.of(source)
    slice_start = start
    ahead = ThreadPoolExecutor(1, thread_name_prefix="collect")
    try:
        if client is None:
            client = client_for(source)
        upcoming = ahead.submit(ask, client, rules, slices[0][0], slices[0][1] - HOUR_SECONDS)
        for i, (first, until) in enumerate(slices):
            slice_start = _moment(first)
            found = upcoming.result()
            if i + 1 < len(slices):  # the next day is asked while this one is written
                following, following_until = slices[i + 1]
                upcoming = ahead.submit(
                    ask, client, rules, following, following_until - HOUR_SECONDS
                )
            with transaction.atomic():
                _write(source, first, until, found, collection, now())
            collection.hours += (until - first) // HOUR_SECONDS
    except Exception as error:
        _record_failure(source, slice_start, end, error, now())
        raise
    finally:
        ahead.shutdown(cancel_futures=True)
    return collection


def _write(
    source: UsageSource,
    first: int,
    until: int,
    found: PodHours,
    collection: Collection,
    moment: datetime,
) -> None:
    # Overlapping runs of this source write one after the other.
    locked = UsageSource.objects.select_for_update().get(pk=source.pk)
    cluster = source.cluster
    written = UsageSample.objects.filter(
        source=source, start_epoch__gte=first, start_epoch__lt=until
    )
    touched = {
        (p, first // DAY_SECONDS) for p in written.values_list("project_id", flat=True).distinct()
    }
    collection.replaced += written.delete()[0]

    tree = OrgTree(source.tenant)
    samples: dict[tuple[int, int, str], tuple[int, tuple[int, ...]]] = {}
    for pod_hour in found.pod_hours:
        placed = tree.place(_row(tree, cluster, pod_hour))
        if type(placed) is RowError:
            found.warnings.append(f"pod {pod_hour.namespace}/{pod_hour.pod}: {placed.reason}")
            continue
        project_id, nodepool_id = placed
        identity = (project_id, pod_hour.start_epoch, pod_hour.pod)
        amounts = pod_hour.amounts()
        if identity in samples:
            # Pods of one name in two namespaces of one project are one sample: their sum.
            nodepool_id, earlier = samples[identity]
            amounts = tuple(map(operator.add, earlier, amounts))
            found.warnings.append(
                f"pod {pod_hour.namespace}/{pod_hour.pod}: another pod of project "
                f"{pod_hour.project!r} has its name; their usage is one sample, summed"
            )
        samples[identity] = (nodepool_id, amounts)
    # An imported sample of the same pod-hour is replaced by the collected one.
    writer = BatchWriter(ImportResult(), columns=COLLECTED_COLUMNS)
    writer.touched |= touched
    for (project_id, start, pod), (nodepool_id, amounts) in samples.items():
        writer.add_values((project_id, nodepool_id, pod, start, HOUR_SECONDS, *amounts, source.pk))
    writer.finish()  # and the daily rollups of the projects and days written or emptied

    frontier = locked.collected_until or locked.start
    changes = {"last_success_at": moment}
    if _moment(first) <= frontier < _moment(until):
        changes["collected_until"] = _moment(until)
    UsageSource.objects.filter(pk=source.pk).update(**changes)
    for name, value in changes.items():
        setattr(source, name, value)

    collection.samples += len(samples)
    collection.excluded |= found.excluded
    collection.unmapped |= found.unmapped
    collection.warnings += found.warnings


def _row(tree: OrgTree, cluster, pod_hour: PodHour) -> SampleRow:
    """A row for the org tree to place: the department by the rules of PodHour."""
    department = pod_hour.department
    if department is None:
        known = tree.projects.get((cluster.pk, pod_hour.project))
        department = tree.department_names[known[1]] if known else DEFAULT
    return SampleRow(
        0,
        cluster.uuid,
        cluster.name,
        pod_hour.nodepool,
        department,
        pod_hour.project,
        pod_hour.pod,
        pod_hour.start_epoch,
        HOUR_SECONDS,
        0,
        0,
        0,
        0,
        0,
        0,
    )


def _record_failure(
    source: UsageSource, start: datetime, end: datetime, error: Exception, moment: datetime
) -> None:
    what = str(error) if isinstance(error, PrometheusError) else f"{type(error).__name__}: {error}"
    message = (
        f"Collecting {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC failed: {what}. "
        "Nothing was written for these hours; the next run tries them again."
    )
    UsageSource.objects.filter(pk=source.pk).update(last_error=message, last_error_at=moment)
    source.last_error, source.last_error_at = message, moment


def _epoch(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone")
    return int(moment.timestamp())
