"""The test Prometheus (tests/prometheus.py): history written as OpenMetrics is served at its own
time, and hour windows select exactly the samples PROMETHEUS.md says they do."""

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.prometheus import OpenMetricsWriter, PrometheusServer, build_blocks

HOUR = 3600
# Three whole hours, three days ago: old enough to lie in blocks only, never in Prometheus's head.
START = (int(time.time()) // HOUR - 72) * HOUR
MINUTES = range(0, 3 * HOUR, 60)
PODS = ("train-1", "serve-2")


def gpu_util(pod: str, t: int) -> float:
    """A made-up utilisation, in quarters so that sums are exact in floating point."""
    return ((t // 60) * (7 if pod == "train-1" else 3) % 401) / 4


def cpu_seconds(pod: str, t: int) -> float:
    """A counter: train-1 uses 2 cores, serve-2 half a core."""
    return (t - START) * (2.0 if pod == "train-1" else 0.5)


def write_history(path: Path) -> None:
    with OpenMetricsWriter(path) as om:
        for pod in PODS:
            om.gauge("gpu_util", {"pod": pod}, [(t, gpu_util(pod, t)) for t in _times()])
        for pod in PODS:
            points = [(t, cpu_seconds(pod, t)) for t in _times()]
            om.counter("cpu_seconds_total", {"pod": pod}, points)
        om.gauge("odd_labels", {"pod": 'a "quoted" \\ back\nslash'}, [(START, 1)])


def _times() -> list[int]:
    # One sample more than three hours, at START + 3h, so that every hour has its end sample.
    return [START + m for m in MINUTES] + [START + 3 * HOUR]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> PrometheusServer:
    work = tmp_path_factory.mktemp("prometheus")
    write_history(work / "history.om")
    build_blocks(work / "history.om", work / "data")
    with PrometheusServer(work / "data", work) as server:
        yield server


def query(server: PrometheusServer, promql: str, at: int) -> dict[str, float]:
    """Instant query over plain HTTP: the value for each pod label."""
    params = urllib.parse.urlencode({"query": promql, "time": at})
    with urllib.request.urlopen(f"{server.url}/api/v1/query?{params}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    results = body["data"]["result"]
    return {item["metric"].get("pod", ""): float(item["value"][1]) for item in results}


@pytest.mark.prometheus
@pytest.mark.parametrize("hour", [0, 1, 2])
def test_sum_over_3599s_at_the_hours_last_second_is_the_hours_samples(prometheus, hour):
    h = START + hour * HOUR
    expected = {pod: sum(gpu_util(pod, t) for t in range(h, h + HOUR, 60)) for pod in PODS}

    assert query(prometheus, "sum_over_time(gpu_util[3599s])", h + HOUR - 1) == expected


@pytest.mark.prometheus
def test_a_1h_window_holds_both_ends(prometheus):
    h = START + HOUR

    assert query(prometheus, "count_over_time(gpu_util[1h])", h + HOUR) == dict.fromkeys(PODS, 61)
    last_second = h + HOUR - 1
    assert query(prometheus, "count_over_time(gpu_util[3599s])", last_second) == dict.fromkeys(
        PODS, 60
    )


@pytest.mark.prometheus
def test_a_counters_increase_over_1h_with_samples_at_both_ends_is_exact(prometheus):
    h = START + HOUR
    expected = {pod: cpu_seconds(pod, h + HOUR) - cpu_seconds(pod, h) for pod in PODS}

    assert query(prometheus, "increase(cpu_seconds_total[1h])", h + HOUR) == expected
    # Over 3599s the end sample is missing and increase() extrapolates: not the hour's use.
    assert query(prometheus, "increase(cpu_seconds_total[3599s])", h + HOUR - 1) != expected


@pytest.mark.prometheus
def test_label_values_with_quotes_backslashes_and_newlines_survive(prometheus):
    assert query(prometheus, "odd_labels", START) == {'a "quoted" \\ back\nslash': 1}


@pytest.mark.prometheus
def test_the_lookback_delta_decides_how_long_an_instant_selector_sees_the_last_sample(
    prometheus, tmp_path
):
    end = START + 3 * HOUR
    # No staleness markers in written history: the last sample stays visible for the lookback.
    assert query(prometheus, "gpu_util", end + 299) == {p: gpu_util(p, end) for p in PODS}
    assert query(prometheus, "gpu_util", end + 301) == {}

    with PrometheusServer(prometheus.data_dir, tmp_path, lookback_delta="1m") as short:
        assert query(short, "gpu_util", end + 59) == {p: gpu_util(p, end) for p in PODS}
        assert query(short, "gpu_util", end + 61) == {}


@pytest.mark.prometheus
def test_promtool_refusing_a_file_says_why(tmp_path):
    (tmp_path / "bad.om").write_text("# TYPE x gauge\nx{pod=unquoted} 1 1700000000\n# EOF\n")

    with pytest.raises(RuntimeError, match=r"promtool could not turn .*bad\.om into blocks"):
        build_blocks(tmp_path / "bad.om", tmp_path / "data")


@pytest.mark.prometheus
def test_a_prometheus_that_cannot_start_shows_its_log(tmp_path):
    server = PrometheusServer(tmp_path / "data", tmp_path, lookback_delta="soon")

    with pytest.raises(RuntimeError, match=r"Prometheus exited \(\d+\); its log") as failure:
        server.start()
    assert 'not a valid duration string: "soon"' in str(failure.value)


def test_the_writer_writes_families_with_their_types_and_eof(tmp_path):
    with OpenMetricsWriter(tmp_path / "h.om") as om:
        om.gauge("up", {"job": "a", "instance": "b"}, [(100, 1), (160, 0.5)])
        om.counter("requests_total", {}, [(100, 3)])

    assert (tmp_path / "h.om").read_text() == (
        "# TYPE up gauge\n"
        'up{instance="b",job="a"} 1 100\n'
        'up{instance="b",job="a"} 0.5 160\n'
        "# TYPE requests counter\n"
        "requests_total 3 100\n"
        "# EOF\n"
    )


def test_the_writer_spells_special_values_as_openmetrics_does(tmp_path):
    with OpenMetricsWriter(tmp_path / "h.om") as om:
        om.gauge("g", {}, [(1, float("nan")), (2, float("inf")), (3, float("-inf")), (4.5, 0.1)])

    assert (tmp_path / "h.om").read_text().splitlines()[1:5] == [
        "g NaN 1",
        "g +Inf 2",
        "g -Inf 3",
        "g 0.1 4.5",
    ]


@pytest.mark.parametrize(
    "write, message",
    [
        (lambda om: om.gauge("g", {}, [(2, 1), (2, 1)]), "timestamp 2 does not follow 2"),
        (lambda om: om.gauge("g", {}, [(2, 1), (1, 1)]), "timestamp 1 does not follow 2"),
        (lambda om: om.counter("c", {}, [(1, 1)]), "a counter's samples are named ..._total"),
        (lambda om: om.gauge("g-h", {}, [(1, 1)]), "'g-h' is not a metric name"),
        (lambda om: om.gauge("g", {"a-b": "x"}, [(1, 1)]), "'a-b' is not a label name"),
    ],
)
def test_the_writer_refuses_what_promtool_would(tmp_path, write, message):
    with OpenMetricsWriter(tmp_path / "h.om") as om, pytest.raises(ValueError, match=message):
        write(om)


def test_the_writer_keeps_a_familys_series_together(tmp_path):
    with OpenMetricsWriter(tmp_path / "h.om") as om:
        om.gauge("a", {"pod": "1"}, [(1, 1)])
        om.gauge("b", {"pod": "1"}, [(1, 1)])
        with pytest.raises(ValueError, match="a's series must be written together"):
            om.gauge("a", {"pod": "2"}, [(1, 1)])
        with pytest.raises(ValueError, match=r"b\{'pod': '1'\} was already written"):
            om.gauge("b", {"pod": "1"}, [(2, 1)])
