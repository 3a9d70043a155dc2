"""A synthetic cluster's Prometheus history for `benchmark_collect`, written fast, a day at a time.

The series are those of tests/consumption/cluster_history.py (kube-state-metrics, cAdvisor with
real, "POD" and "" containers, dcgm-exporter), scraped every 60 s, for `pods` pods numbered
i = 0, 1, ...; each UTC day goes to its own OpenMetrics file, written family by family with one
`join` per series, so nothing larger than one series is ever in memory. The rules, which a test
can count pod-hours from without this code:

- pod i is in the namespace `runai-<PROJECTS[i % 5]>` (the first two namespaces name their project
  with the label runai/queue, the others by the prefix) on the node `node-<i % 8>`, whose node
  pool (label `pool`) is NODE_POOLS[i % 8 % 3];
- pod i with i % 4 == 3 asks for a fraction of a GPU (annotation gpu-fraction 0.5, one device, no
  nvidia.com/gpu request); the others ask for 1 + i % 4 whole GPUs;
- pod i with i % 3 == 2 is a job: each day d a new pod `job-<i>-<d>` is Pending from 06:00,
  Running from 06:30 until 18:30, then Succeeded until 20:00 and gone: 13 pod-hours a day
  (06:00 to 18:00 included). Every other pod is `svc-<i>`, Running all the time: 24 a day.

So a day holds 24 × (pods not jobs) + 13 × (jobs) pod-hours. Phases Failed and Unknown, always 0,
are left out (the collector never reads them; they would only make promtool slower).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOUR = 3600
DAY = 86_400
SCRAPE = 60
GIB = 1 << 30
MIB = 1 << 20
PROJECTS = ("vision", "nlp", "speech", "robotics", "llm")
LABELLED_PROJECTS = PROJECTS[:2]  # their namespaces carry runai/queue; the others go by prefix
NODE_POOLS = ("a100", "h100", "t4")
NODES = 8
PROJECT_LABEL = "runai/queue"
NODEPOOL_LABEL = "pool"
JOB_RUNNING = (6 * HOUR + 1800, 18 * HOUR + 1800)  # within its day
JOB_ALIVE = (6 * HOUR, 20 * HOUR)


def is_job(i: int) -> bool:
    return i % 3 == 2


def pod_hours_per_day(pods: int) -> int:
    """The pod-hours one day of the history holds, by the rules above."""
    jobs = sum(1 for i in range(pods) if is_job(i))
    return 24 * (pods - jobs) + 13 * jobs


@dataclass(frozen=True)
class _Pod:
    """One pod's life within one day: [alive), [running) in unix seconds."""

    i: int
    namespace: str
    name: str
    node: str
    gpus: int
    fraction: str
    started: int  # when it first ran (its counters count from here)
    alive: range
    running: range


def _pods_of_day(pods: int, day_start: int, first_day: int) -> list[_Pod]:
    times = range(day_start, day_start + DAY, SCRAPE)
    result = []
    for i in range(pods):
        fraction = "0.5" if i % 4 == 3 else ""
        gpus = 0 if fraction else 1 + i % 4
        namespace = f"runai-{PROJECTS[i % len(PROJECTS)]}"
        node = f"node-{i % NODES}"
        if is_job(i):
            day = (day_start - first_day) // DAY
            alive = range(day_start + JOB_ALIVE[0], day_start + JOB_ALIVE[1], SCRAPE)
            running = range(day_start + JOB_RUNNING[0], day_start + JOB_RUNNING[1], SCRAPE)
            name = f"job-{i}-{day}"
            pod = _Pod(i, namespace, name, node, gpus, fraction, running.start, alive, running)
        else:
            pod = _Pod(i, namespace, f"svc-{i}", node, gpus, fraction, first_day, times, times)
        result.append(pod)
    return result


def write_day(path: Path, pods: int, day_start: int, first_day: int) -> int:
    """Writes the day starting at `day_start` (UTC midnight) as OpenMetrics; the lines written."""
    day = _pods_of_day(pods, day_start, first_day)
    times = range(day_start, day_start + DAY, SCRAPE)
    lines = 0
    with path.open("w", encoding="utf-8") as out:

        def family(name: str, kind: str = "gauge") -> None:
            out.write(
                f"# TYPE {name.removesuffix('_total') if kind == 'counter' else name} {kind}\n"
            )

        def constant(prefix: str, value: str, at: range) -> None:
            nonlocal lines
            if not at:
                return
            body = f"{prefix} {value} "
            out.write(body + ("\n" + body).join(map(str, at)) + "\n")
            lines += len(at)

        def varying(prefix: str, values: Iterator[tuple[int, str]]) -> None:
            nonlocal lines
            text = "".join(f"{prefix} {v} {t}\n" for t, v in values)
            out.write(text)
            lines += text.count("\n")

        family("kube_namespace_labels")
        for project in PROJECTS:
            label = f',label_runai_queue="{project}"' if project in LABELLED_PROJECTS else ""
            constant(f'kube_namespace_labels{{namespace="runai-{project}"{label}}}', "1", times)
        family("kube_node_labels")
        for n in range(NODES):
            pool = NODE_POOLS[n % len(NODE_POOLS)]
            constant(f'kube_node_labels{{label_pool="{pool}",node="node-{n}"}}', "1", times)

        family("kube_pod_status_phase")
        for p in day:
            ids = f'namespace="{p.namespace}",pod="{p.name}"'
            before = range(p.alive.start, p.running.start, SCRAPE)
            after = range(p.running.stop, p.alive.stop, SCRAPE)
            for phase, during in (
                ("Pending", before),
                ("Running", p.running),
                ("Succeeded", after),
            ):
                prefix = f'kube_pod_status_phase{{{ids},phase="{phase}"}}'
                if p.alive == p.running and phase != "Running":
                    constant(prefix, "0", p.alive)
                    continue
                varying(prefix, ((t, "1" if t in during else "0") for t in p.alive))
        family("kube_pod_info")
        for p in day:
            ids = f'namespace="{p.namespace}",node="{p.node}",pod="{p.name}"'
            constant(f'kube_pod_info{{host_ip="10.0.0.{p.i % NODES}",{ids}}}', "1", p.alive)
        family("kube_pod_labels")
        for p in day:
            labels = f'label_app="{p.name}",namespace="{p.namespace}",pod="{p.name}"'
            constant(f"kube_pod_labels{{{labels}}}", "1", p.alive)
        family("kube_pod_annotations")
        for p in day:
            annotation = f'annotation_gpu_fraction="{p.fraction}",' if p.fraction else ""
            labels = f'{annotation}namespace="{p.namespace}",pod="{p.name}"'
            constant(f"kube_pod_annotations{{{labels}}}", "1", p.alive)
        family("kube_pod_container_resource_requests")
        for p in day:
            ids = f'container="main",namespace="{p.namespace}",node="{p.node}",pod="{p.name}"'
            requests = [("cpu", "core", 1 + p.i % 4), ("memory", "byte", (4 + p.i % 4) * GIB)]
            if p.gpus:
                requests.append(("nvidia_com_gpu", "integer", p.gpus))
            for resource, unit, amount in requests:
                labels = f'{ids},resource="{resource}",unit="{unit}"'
                prefix = f"kube_pod_container_resource_requests{{{labels}}}"
                constant(prefix, str(amount), p.alive)

        family("container_cpu_usage_seconds_total", "counter")
        for p in day:
            ids = f'namespace="{p.namespace}",pod="{p.name}"'
            # Cores used, in quarters so that every counter value is exact; the pod's own cgroup
            # ("") and its pause container ("POD") must not count.
            for container, quarters in (("main", 1 + p.i % 7), ("POD", 1), ("", 2 + p.i % 7)):
                labels = f'container="{container}",cpu="total",{ids}'
                prefix = f"container_cpu_usage_seconds_total{{{labels}}}"
                since = p.started - SCRAPE
                rate = quarters / 4
                varying(prefix, ((t, repr(rate * (t - since))) for t in p.running))
        family("container_memory_working_set_bytes")
        for p in day:
            ids = f'namespace="{p.namespace}",pod="{p.name}"'
            for container, base in (("main", (2 + p.i % 3) * GIB), ("POD", MIB), ("", 60 * GIB)):
                prefix = f'container_memory_working_set_bytes{{container="{container}",{ids}}}'
                varying(prefix, ((t, str(base + (t // SCRAPE) % 7 * MIB)) for t in p.running))
        family("DCGM_FI_DEV_GPU_UTIL")
        for p in day:
            for device in range(p.gpus or 1):
                prefix = (
                    f'DCGM_FI_DEV_GPU_UTIL{{Hostname="{p.node}",UUID="GPU-{p.node}-{device}",'
                    f'container="main",gpu="{device}",modelName="NVIDIA A100-SXM4-80GB",'
                    f'namespace="{p.namespace}",pod="{p.name}"}}'
                )
                # Idle one hour in four (a different hour for each pod), busy otherwise.
                busy = str(30 + device)
                varying(
                    prefix,
                    ((t, "0" if (t // HOUR + p.i) % 4 == 0 else busy) for t in p.running),
                )
        out.write("# EOF\n")
    return lines
