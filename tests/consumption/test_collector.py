"""The collector against a real Prometheus serving a generated cluster history
(tests/consumption/cluster_history.py): every pod-hour equals what the history's own samples say,
and collecting writes them exactly once, whatever is collected again, back-filled or fails."""

import re
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
from django.core.files.storage import default_storage

from consumption import collector
from consumption.collector import (
    QUERY_THREADS,
    PodHour,
    Rules,
    ask,
    collect,
    pod_hours,
    sanitise,
)
from consumption.models import TokenMissing, UsageRollup, UsageSample
from consumption.prometheus import PrometheusClient, PrometheusError, Series
from reports.services import create_report
from reports.tasks import build_report
from reports_site.tenancy.models import Project
from tests.consumption import cluster_history as history
from tests.consumption.cluster_history import HOURS, MIDNIGHT, PODS, START
from tests.consumption.samples import sample, save_samples
from tests.factories import ClusterFactory, DepartmentFactory, ProjectFactory, UsageSourceFactory
from tests.prometheus import PrometheusServer, build_blocks

RULES = Rules(
    scrape_interval=history.SCRAPE,
    project_label=history.PROJECT_LABEL,
    namespace_prefix="runai-",
    department_label=history.DEPARTMENT_LABEL,
    nodepool_label=history.NODEPOOL_LABEL,
    excluded_namespaces=frozenset({"runai-reservation"}),
)
EXCLUDED = ("runai-reservation", "runai-reservation-gpu-node-c-x7k2p")
UNMAPPED = ("sandbox", "notebook-e")
# Where the generated pods' usage belongs (the history's Pods say so, independently).
PLACES = {(p.namespace, p.name): (p.project, p.department) for p in PODS}
NODE_POOLS = {(p.namespace, p.name): history.NODE_POOLS.get(p.node) for p in PODS}
WITHOUT_TRAIN_A = [p for p in PODS if p.name != "train-a"]


def start_prometheus(tmp_path_factory, pods) -> PrometheusServer:
    work = tmp_path_factory.mktemp("prometheus")
    history.write_history(work / "history.om", pods)
    build_blocks(work / "history.om", work / "data")
    # The spec says a lookback equal to the scrape interval; Prometheus 2.42 still sees a sample
    # exactly that old (its lookback window is closed), so a series that ends while idle would
    # count one subquery point too many. One second less is exact.
    server = PrometheusServer(work / "data", work, lookback_delta=f"{history.SCRAPE - 1}s")
    server.start()
    return server


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    server = start_prometheus(tmp_path_factory, PODS)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def prometheus_without_train_a(tmp_path_factory):
    server = start_prometheus(tmp_path_factory, WITHOUT_TRAIN_A)
    yield server
    server.stop()


def expected(pods=PODS, hours=HOURS) -> dict[tuple[str, str, int], tuple]:
    """(namespace, pod, hour) -> the stored amounts, for the pods that count."""
    return {
        key: value.as_stored()
        for key, value in history.expected_pod_hours(pods, hours).items()
        if key[:2] not in (EXCLUDED, UNMAPPED)
    }


def amounts(p: PodHour | UsageSample) -> tuple:
    return (
        p.gpu_allocated_micro,
        p.gpu_idle_micro,
        p.cpu_allocated_micro,
        p.cpu_used_micro,
        p.memory_allocated_bytes,
        p.memory_used_bytes,
    )


def asked(server: PrometheusServer) -> dict[tuple[str, str, int], PodHour]:
    """Both day slices of the history, asked of the server."""
    found = {}
    with PrometheusClient(server.url) as client:
        for first, last in ((HOURS[0], HOURS[2]), (HOURS[3], HOURS[5])):
            for p in ask(client, RULES, first, last).pod_hours:
                found[(p.namespace, p.pod, p.start_epoch)] = p
    return found


def hour(index: int) -> int:
    return START + index * 3600


@pytest.mark.prometheus
class TestPodHours:
    def test_every_pod_hour_equals_the_historys_samples(self, prometheus):
        found = asked(prometheus)

        assert {k: amounts(p) for k, p in found.items()} == expected()
        for (namespace, pod, _), p in found.items():
            project, department = PLACES[(namespace, pod)]
            assert (p.project, p.department, p.nodepool) == (
                project,
                department,
                NODE_POOLS[(namespace, pod)],
            )

    def test_asking_day_after_day_keeps_no_more_connections_than_queries_at_once(self, prometheus):
        port = urllib.parse.urlsplit(prometheus.url).port
        with PrometheusClient(prometheus.url) as client:
            for _ in range(3):
                for first, last in ((HOURS[0], HOURS[2]), (HOURS[3], HOURS[5])):
                    ask(client, RULES, first, last)
            kept = [
                c
                for c in psutil.Process().net_connections("tcp")
                if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
            ]

        assert 1 < len(kept) <= QUERY_THREADS

    def test_excluded_and_unmapped_pods_are_left_out_and_counted(self, prometheus):
        with PrometheusClient(prometheus.url) as client:
            result = ask(client, RULES, HOURS[0], HOURS[2])

        assert result.excluded == {EXCLUDED}
        assert result.unmapped == {UNMAPPED}
        assert {(p.namespace, p.pod) for p in result.pod_hours}.isdisjoint({EXCLUDED, UNMAPPED})
        assert result.warnings == []

    def test_the_fractional_pod_holds_its_fraction_idle_while_its_device_is(self, prometheus):
        found = asked(prometheus)

        before_midnight = amounts(found[("runai-nlp", "frac-c", hour(0))])[:2]
        after_midnight = amounts(found[("runai-nlp", "frac-c", hour(4))])[:2]
        assert before_midnight == (500_000, 500_000)
        assert after_midnight == (500_000, 0)

    def test_a_pod_that_starts_at_half_past_holds_half_its_gpus_that_hour(self, prometheus):
        found = asked(prometheus)

        assert ("runai-vision", "train-b", hour(0)) not in found
        half = found[("runai-vision", "train-b", hour(1))]
        # 2 GPUs for half the hour; one of its two devices idle throughout; 4.5 cores requested.
        assert amounts(half)[:3] == (1_000_000, 500_000, 2_250_000)
        assert amounts(found[("runai-vision", "train-b", hour(2))])[:3] == (
            2_000_000,
            1_000_000,
            4_500_000,
        )

    def test_a_pending_pod_has_no_pod_hours(self, prometheus):
        assert not [k for k in asked(prometheus) if k[1] == "pending-d"]

    def test_the_pod_cgroup_and_pause_container_do_not_count(self, prometheus):
        found = asked(prometheus)

        # train-a: one container using 6.25 cores, 20 GiB and a little.
        assert amounts(found[("runai-vision", "train-a", hour(2))])[3] == 6_250_000
        assert amounts(found[("runai-vision", "train-a", hour(2))])[5] >= 20 * history.GIB
        assert amounts(found[("runai-vision", "train-a", hour(2))])[5] < 21 * history.GIB


def series(labels: dict[str, str], *points: tuple[int, float]) -> Series:
    return Series(labels, list(points))


class TestPodHoursWithoutPrometheus:
    """The computation alone, on answers written by hand."""

    H = 1_700_002_800  # a whole hour; its point is at H + 3599

    def answers(self, **given) -> dict[str, list[Series]]:
        empty = dict.fromkeys(RULES.queries(), [])
        return empty | given

    def test_label_keys_are_sanitised_as_kube_state_metrics_does(self):
        assert sanitise("runai/queue") == "runai_queue"
        assert sanitise("node-pool.example.com/name") == "node_pool_example_com_name"
        assert 'label_node_pool_example_com_name!=""' in RULES.queries()["node_pool"]

    def test_exported_pod_labels_name_the_pod_of_a_gpu(self):
        at = self.H + 3599
        pod = {"namespace": "runai-a", "pod": "p"}
        answers = self.answers(
            running=[series(pod, (at, 60))],
            request_nvidia_com_gpu=[series(pod, (at, 1))],
            idle=[
                series(
                    {"namespace": "gpu-operator", "exported_namespace": "runai-a"}
                    | {"exported_pod": "p"},
                    (at, 15),
                )
            ],
        )

        (found,) = pod_hours(RULES, answers).pod_hours
        assert (found.project, found.gpu_allocated_micro, found.gpu_idle_micro) == (
            "a",
            1_000_000,
            250_000,
        )

    def test_a_gpu_fraction_that_is_not_a_fraction_counts_no_gpus_and_warns(self):
        at = self.H + 3599
        pod = {"namespace": "runai-a", "pod": "p"}
        answers = self.answers(
            running=[series(pod, (at, 60))],
            fraction=[series(pod | {"annotation_gpu_fraction": "half"}, (at, 1))],
        )

        result = pod_hours(RULES, answers)
        assert result.pod_hours[0].gpu_allocated_micro == 0
        assert result.warnings == [
            "pod runai-a/p: gpu-fraction 'half' is not a number above 0 and at most 1; its GPUs "
            "are not counted"
        ]

    def test_amounts_round_half_to_even_as_the_importer_does(self):
        at = self.H + 3599
        pod = {"namespace": "runai-a", "pod": "p"}
        # 0.0000005 cores used a whole hour: half a millionth, rounded to even (0).
        answers = self.answers(
            running=[series(pod, (at, 60))],
            cpu_seconds=[series(pod, (at, 0.0018))],
            memory_used=[series(pod, (at, 90))],  # 1.5 bytes: rounded to 2
        )

        (found,) = pod_hours(RULES, answers).pod_hours
        assert (found.cpu_used_micro, found.memory_used_bytes) == (0, 2)
        assert Fraction("0.0018") / 3600 * 1_000_000 == Fraction(1, 2)


# --- Writing ---------------------------------------------------------------------------------


@pytest.fixture
def source(tenant, prometheus):
    return UsageSourceFactory(
        tenant=tenant,
        cluster=ClusterFactory(tenant=tenant, name="gpu-east"),
        url=prometheus.url,
        project_label=history.PROJECT_LABEL,
        department_label=history.DEPARTMENT_LABEL,
        nodepool_label=history.NODEPOOL_LABEL,
        start=moment(HOURS[0]),
    )


def moment(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def stored(source) -> dict[tuple[str, str, int], tuple]:
    """The source's samples as (namespace, pod, hour) -> amounts; namespaces from the history."""
    namespaces = {p.name: p.namespace for p in PODS}
    return {
        (namespaces[s.workload], s.workload, s.start_epoch): amounts(s)
        for s in UsageSample.objects.filter(source=source)
    }


ROLLUP_FIELDS = [f.attname for f in UsageRollup._meta.concrete_fields if f.name != "id"]


def rollups() -> set[tuple]:
    """(project id, node pool id, day, sums...) of every rollup."""
    return set(UsageRollup.objects.values_list(*ROLLUP_FIELDS))


def places(source) -> dict[str, tuple[str, str, str]]:
    return {
        s.workload: (s.project.department.name, s.project.name, s.nodepool.name)
        for s in UsageSample.objects.filter(source=source).select_related(
            "project__department", "nodepool"
        )
    }


END = moment(HOURS[5] + 3600)


@pytest.mark.prometheus
@pytest.mark.django_db
class TestCollect:
    def test_it_writes_every_pod_hour_with_its_project_department_and_node_pool(self, source):
        collection = collect(source, moment(HOURS[0]), END)

        assert stored(source) == expected()
        assert places(source) == {
            "train-a": ("research", "vision", "a100"),
            "train-b": ("research", "audio", "h100"),
            "frac-c": ("default", "nlp", "t4"),
            "serve-f": ("training", "llm", "t4"),
        }
        assert (collection.hours, collection.samples) == (6, len(expected()))
        assert (collection.excluded, collection.unmapped) == ({EXCLUDED}, {UNMAPPED})
        source.refresh_from_db()
        assert source.collected_until == END
        assert source.last_success_at is not None
        assert source.last_error == ""

    def test_an_unlabelled_project_keeps_the_department_it_has(self, source):
        ops = DepartmentFactory(cluster=source.cluster, name="ops")
        ProjectFactory(department=ops, name="nlp")

        collect(source, moment(HOURS[0]), END)

        assert places(source)["frac-c"] == ("ops", "nlp", "t4")
        assert Project.objects.filter(name="nlp").count() == 1

    def test_collecting_again_replaces_and_never_double_counts(self, source):
        collect(source, moment(HOURS[0]), END)
        first, first_rollups = stored(source), rollups()

        again = collect(source, moment(HOURS[0]), END)

        assert stored(source) == first == expected()
        assert rollups() == first_rollups
        assert again.replaced == len(first)

    def test_a_pod_gone_from_prometheus_is_gone_from_the_hours_collected_again(
        self, source, prometheus_without_train_a
    ):
        collect(source, moment(HOURS[0]), END)
        client = PrometheusClient(prometheus_without_train_a.url)

        collect(source, moment(HOURS[3]), END, client=client)

        assert stored(source) == {
            key: value
            for key, value in expected().items()
            if key[1] != "train-a" or key[2] < HOURS[3]
        }
        assert rollups() == self.rollups_of_expected_samples(source)

    def rollups_of_expected_samples(self, source) -> set[tuple]:
        """The rollups recomputed from scratch from the stored samples."""
        UsageRollup.objects.all().delete()
        from consumption import rollups as rollup_module

        project_ids = Project.objects.values_list("pk", flat=True)
        rollup_module.refresh(project_ids, START // 86_400 - 1, START // 86_400 + 2)
        return rollups()

    def test_back_filling_a_range_writes_it_once(self, source):
        collect(source, moment(HOURS[3]), END)
        source.refresh_from_db()
        assert source.collected_until is None  # the hours before are not collected yet

        collect(source, moment(HOURS[0]), moment(HOURS[3]))
        source.refresh_from_db()
        assert source.collected_until == moment(MIDNIGHT)
        collect(source, moment(HOURS[1]), moment(HOURS[4]))  # overlapping both

        assert stored(source) == expected()
        source.refresh_from_db()
        assert source.collected_until == moment(HOURS[4])

    def test_a_failure_mid_range_keeps_the_days_done_and_records_the_error(self, source):
        class FailingAfterMidnight(PrometheusClient):
            def query_range(self, promql, start, end, step_seconds):
                if start.timestamp() >= MIDNIGHT:
                    raise PrometheusError(
                        f"Prometheus at {self.base_url} did not answer within 30 s"
                    )
                return super().query_range(promql, start, end, step_seconds)

        collect(source, moment(HOURS[0]), END)
        source.collected_until = None
        source.save()
        UsageSample.objects.filter(source=source, start_epoch__gte=MIDNIGHT).update(
            gpu_allocated_micro=7, gpu_idle_micro=0
        )
        before_midnight_rollups = {r for r in rollups() if r[2] < MIDNIGHT // 86_400}

        with pytest.raises(PrometheusError, match="did not answer"):
            collect(source, moment(HOURS[0]), END, client=FailingAfterMidnight(source.url))

        after = stored(source)
        assert {k: v for k, v in after.items() if k[2] < MIDNIGHT} == {
            k: v for k, v in expected().items() if k[2] < MIDNIGHT
        }
        # The day it could not collect is as it was: nothing deleted, nothing half-written.
        assert {v[0] for k, v in after.items() if k[2] >= MIDNIGHT} == {7}
        assert {r for r in rollups() if r[2] < MIDNIGHT // 86_400} == before_midnight_rollups
        source.refresh_from_db()
        assert source.collected_until == moment(MIDNIGHT)
        day = moment(MIDNIGHT)
        assert source.last_error == (
            f"Collecting {day:%Y-%m-%d} 00:00 to {END:%Y-%m-%d %H:%M} UTC failed: Prometheus at "
            f"{source.url} did not answer within 30 s. Nothing was written for these hours; the "
            "next run tries them again."
        )
        assert source.last_error_at is not None

    def test_an_unreachable_prometheus_is_recorded_and_nothing_written(self, source):
        source.url = "http://127.0.0.1:9"
        source.save()

        with pytest.raises(PrometheusError, match="cannot reach Prometheus at http://127.0.0.1:9"):
            collect(source, moment(HOURS[0]), END)

        assert not UsageSample.objects.exists()
        source.refresh_from_db()
        assert source.collected_until is None
        assert "cannot reach Prometheus" in source.last_error

    def test_a_report_of_collected_usage_has_the_historys_totals(self, source, viewer, no_queue):
        collect(source, moment(HOURS[0]), END)
        first_day = moment(HOURS[0] // 86_400 * 86_400)
        report = create_report(
            viewer, name="Collected", start=first_day, end=moment(first_day.timestamp() + 172800)
        )
        build_report(str(report.pk))
        report.refresh_from_db()
        with default_storage.open(report.file.name, "rb") as file:
            lines = file.read().decode().splitlines()

        totals: dict[tuple[str, str], list[int]] = {}
        for (namespace, pod, _), values in expected().items():
            project, department = PLACES[(namespace, pod)]
            key = (department or "default", project)
            totals.setdefault(key, [0] * 6)
            totals[key] = [a + b for a, b in zip(totals[key], values, strict=True)]
        assert lines[1:] == [
            ",".join(["gpu-east", department, project] + hours_of(values))
            for (department, project), values in sorted(totals.items())
        ]


def hours_of(values: list[int]) -> list[str]:
    """The CSV's columns for an hour's worth of each amount: millionths as hours with four
    decimals (rounded half up, as reports round), bytes as byte-hours."""
    four = Decimal("0.0001")
    units = [
        str((Decimal(v) / 1_000_000).quantize(four, rounding=ROUND_HALF_UP)) for v in values[:4]
    ]
    return units + [str(v) for v in values[4:]]


def test_day_slices_cut_at_midnight():
    assert list(collector.day_slices(moment(HOURS[1]), END)) == [
        (HOURS[1], MIDNIGHT),
        (MIDNIGHT, HOURS[5] + 3600),
    ]


class AnsweringClient:
    """Stands in for PrometheusClient: answers each of RULES's queries with the series given
    by name, every point at the hour H's last second."""

    def __init__(self, **answers: list[tuple[dict[str, str], float]]) -> None:
        self.answers = {
            RULES.queries()[name]: [Series(labels, [(H + 3599, value)]) for labels, value in given]
            for name, given in answers.items()
        }

    def query_range(self, promql, start, end, step_seconds):
        return self.answers.get(promql, [])


H = HOURS[0]


@pytest.fixture
def offline_source(tenant):
    return UsageSourceFactory(
        tenant=tenant,
        cluster=ClusterFactory(tenant=tenant, name="gpu-east"),
        url="http://prometheus.example:9090",
        project_label=history.PROJECT_LABEL,
        department_label=history.DEPARTMENT_LABEL,
        nodepool_label=history.NODEPOOL_LABEL,
        start=moment(H),
    )


@pytest.mark.django_db
class TestWritingWithoutPrometheus:
    def test_pods_of_one_name_in_one_project_are_one_summed_sample(self, offline_source):
        a = {"namespace": "runai-a", "pod": "worker"}
        b = {"namespace": "team-b", "pod": "worker"}
        client = AnsweringClient(
            running=[(a, 60), (b, 30)],
            request_nvidia_com_gpu=[(a, 1), (b, 2)],
            pod_project=[(b | {"label_runai_queue": "a"}, 1)],
        )

        done = collect(offline_source, moment(H), moment(H + 3600), client=client)

        (only,) = UsageSample.objects.all()
        assert (only.project.name, only.workload, only.gpu_allocated_micro) == (
            "a",
            "worker",
            2_000_000,
        )
        assert done.warnings == [
            "pod team-b/worker: another pod of project 'a' has its name; their usage is one "
            "sample, summed"
        ]

    def test_a_pod_whose_department_contradicts_its_project_is_skipped_and_said(
        self, offline_source
    ):
        research = DepartmentFactory(cluster=offline_source.cluster, name="research")
        ProjectFactory(department=research, name="a")
        pod = {"namespace": "runai-a", "pod": "p"}
        client = AnsweringClient(
            running=[(pod, 60)],
            namespace_labels=[({"namespace": "runai-a", "label_team": "ops"}, 1)],
        )

        done = collect(offline_source, moment(H), moment(H + 3600), client=client)

        assert not UsageSample.objects.exists()
        assert done.warnings == [
            "pod runai-a/p: project 'a' of cluster 'gpu-east' is in department 'research', not "
            "'ops': a project belongs to exactly one department"
        ]

    def test_a_collected_pod_hour_replaces_an_imported_sample_of_it(self, offline_source):
        default = DepartmentFactory(cluster=offline_source.cluster, name="default")
        project = ProjectFactory(department=default, name="a")
        save_samples(sample(project, moment(H).isoformat(), 3600, workload="p", gpu=3))
        pod = {"namespace": "runai-a", "pod": "p"}

        collect(
            offline_source,
            moment(H),
            moment(H + 3600),
            client=AnsweringClient(running=[(pod, 60)], request_nvidia_com_gpu=[(pod, 1)]),
        )

        (only,) = UsageSample.objects.all()
        assert (only.source, only.gpu_allocated_micro) == (offline_source, 1_000_000)
        (rollup,) = UsageRollup.objects.all()
        assert rollup.gpu_allocated == 1_000_000 * 3600


class MisbehavingAfterMidnight(ThreadingHTTPServer):
    """Passes queries for hours before MIDNIGHT to a real Prometheus and answers the others in
    the way `behaviour` says a Prometheus (or what stands before it) can fail."""

    daemon_threads = True

    def __init__(self, upstream: str, behaviour: str) -> None:
        super().__init__(("127.0.0.1", 0), _Misbehaving)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.upstream, self.behaviour = upstream, behaviour
        self.released = threading.Event()


class _Misbehaving(BaseHTTPRequestHandler):
    server: MisbehavingAfterMidnight

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        form = urllib.parse.parse_qs(body.decode())
        if int(form["start"][0]) < MIDNIGHT:
            request = urllib.request.Request(self.server.upstream + self.path, data=body)
            with urllib.request.urlopen(request, timeout=10) as upstream:
                self.reply(200, upstream.read())
            return
        behaviour = self.server.behaviour
        if behaviour == "hang":
            self.server.released.wait(10)
        elif behaviour == "error":
            error = b'{"status":"error","errorType":"internal","error":"out of memory"}'
            self.reply(500, error)
        elif behaviour == "html":
            self.reply(200, b"<html>Sign in</html>", "text/html")
        elif behaviour == "cut_off":
            self.reply(200, b'{"status":"success","data":{"resu', extra=100)

    def reply(self, status, body, content_type="application/json", extra=0) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def misbehaving(prometheus, request):
    server = MisbehavingAfterMidnight(prometheus.url, request.param)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


@pytest.mark.prometheus
@pytest.mark.django_db
@pytest.mark.parametrize(
    "misbehaving, error",
    [
        ("hang", "did not answer within 0.5 s"),
        ("error", "failed on the query (internal, HTTP 500): out of memory"),
        ("html", "answered with something that is not a Prometheus query result"),
        ("cut_off", "closed the connection before its answer was complete"),
    ],
    indirect=["misbehaving"],
)
def test_each_failure_of_prometheus_keeps_the_day_done_and_leaves_the_next_as_it_was(
    source, misbehaving, error
):
    collect(source, moment(MIDNIGHT), END)
    # Marked, to see that the day that fails keeps its samples as they were.
    UsageSample.objects.update(memory_used_bytes=7)
    client = PrometheusClient(misbehaving.url, timeout=0.5)
    started = time.monotonic()

    with pytest.raises(PrometheusError, match=re.escape(error)):
        collect(source, moment(HOURS[0]), END, client=client)

    assert time.monotonic() - started < 5
    after = stored(source)
    assert {k: v for k, v in after.items() if k[2] < MIDNIGHT} == {
        k: v for k, v in expected().items() if k[2] < MIDNIGHT
    }
    assert {k for k in after if k[2] >= MIDNIGHT} == {k for k in expected() if k[2] >= MIDNIGHT}
    assert {v[5] for k, v in after.items() if k[2] >= MIDNIGHT} == {7}
    source.refresh_from_db()
    assert source.collected_until == moment(MIDNIGHT)
    assert source.last_error.startswith(
        f"Collecting {moment(MIDNIGHT):%Y-%m-%d %H:%M} to {END:%Y-%m-%d %H:%M} UTC failed: "
        f"Prometheus at {misbehaving.url}/api/v1/query_range "
    )
    assert error in source.last_error


@pytest.mark.django_db
def test_a_missing_token_is_recorded_as_the_sources_error(offline_source, monkeypatch):
    monkeypatch.delenv("EAST_TOKEN", raising=False)
    offline_source.token_env = "EAST_TOKEN"
    offline_source.save()

    with pytest.raises(TokenMissing):
        collect(offline_source, moment(H), moment(H + 3600))

    offline_source.refresh_from_db()
    assert "environment variable EAST_TOKEN, which is not set" in offline_source.last_error
    assert offline_source.collected_until is None


@pytest.mark.django_db
def test_hours_that_are_not_whole_are_the_callers_mistake_not_the_sources(offline_source):
    with pytest.raises(ValueError, match="collect whole UTC hours"):
        collect(offline_source, moment(H + 60), moment(H + 3600), client=AnsweringClient())

    offline_source.refresh_from_db()
    assert offline_source.last_error == ""


def test_a_value_no_exporter_should_give_is_ignored_and_said():
    at = H + 3599
    pod = {"namespace": "runai-a", "pod": "p"}
    answers = dict.fromkeys(RULES.queries(), []) | {
        "running": [Series(pod, [(at, 60)])],
        "request_cpu": [Series(pod, [(at, -2)])],
        "memory_used": [Series(pod, [(at, float("nan"))])],
    }

    result = pod_hours(RULES, answers)

    assert amounts(result.pod_hours[0]) == (0, 0, 0, 0, 0, 0)
    hour = f"{moment(at):%Y-%m-%d %H:%M:%S}"
    assert result.warnings == [
        f"pod runai-a/p: -2 at {hour} UTC ignored (not a finite number of at least 0)",
        f"pod runai-a/p: nan at {hour} UTC ignored (not a finite number of at least 0)",
    ]
