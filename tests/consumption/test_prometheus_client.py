"""PrometheusClient: the series it reads, and the one error, in words an operator can act on, for
every way a Prometheus (or what stands in front of it) can fail. A local HTTP server plays the
misbehaving Prometheus; the tests marked `prometheus` ask a real one."""

import json
import math
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from consumption.prometheus import PrometheusClient, PrometheusError, Series
from tests.prometheus import OpenMetricsWriter, PrometheusServer, build_blocks

AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "up", "pod": "a"}, "value": [1773144000, "1.5"]},
            {"metric": {"pod": "b"}, "value": [1773144000, "NaN"]},
            {"metric": {"pod": "c"}, "value": [1773144000, "+Inf"]},
        ],
    },
}
MATRIX = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [{"metric": {"pod": "a"}, "values": [[1773144000, "1"], [1773144060, "-Inf"]]}],
    },
}


class FakePrometheus(ThreadingHTTPServer):
    """Answers every request as told (or hangs, or cuts off) and keeps what it was asked."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.status = 200
        self.content_type = "application/json"
        self.body = json.dumps(VECTOR).encode()
        self.behaviour = "answer"  # or "hang", "hang_in_body", "cut_off"
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.released = threading.Event()

    def answer(self, status: int, body: str | dict, content_type: str = "application/json") -> None:
        self.status, self.content_type = status, content_type
        self.body = (json.dumps(body) if isinstance(body, dict) else body).encode()


class _Handler(BaseHTTPRequestHandler):
    server: FakePrometheus

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self.server.requests.append(
            (self.path, dict(self.headers), {key: values[0] for key, values in form.items()})
        )
        behaviour = self.server.behaviour
        if behaviour == "hang":
            self.server.released.wait(10)
            return
        self.send_response(self.server.status)
        self.send_header("Content-Type", self.server.content_type)
        body = self.server.body
        extra = 100 if behaviour in ("hang_in_body", "cut_off") else 0
        self.send_header("Content-Length", str(len(body) + extra))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if behaviour == "hang_in_body":
            self.server.released.wait(10)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake():
    server = FakePrometheus()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()


def client(url: str, **options) -> PrometheusClient:
    return PrometheusClient(url, timeout=options.pop("timeout", 0.5), **options)


def failure(fake: FakePrometheus, **options) -> str:
    with pytest.raises(PrometheusError) as error:
        client(fake.url, **options).query("up", AT)
    return str(error.value)


def test_it_reads_an_instant_vector_with_prometheus_special_values(fake):
    series = client(fake.url).query("up", AT)

    assert [s.labels for s in series] == [
        {"__name__": "up", "pod": "a"},
        {"pod": "b"},
        {"pod": "c"},
    ]
    assert series[0].points == [(1773144000, 1.5)]
    assert math.isnan(series[1].points[0][1])
    assert series[2].points == [(1773144000, math.inf)]
    path, _, form = fake.requests[0]
    assert (path, form) == ("/api/v1/query", {"query": "up", "time": "1773144000"})


def test_it_reads_a_matrix(fake):
    fake.answer(200, MATRIX)

    series = client(fake.url).query_range("up", AT, AT + timedelta(minutes=1), 60)

    assert series == [Series({"pod": "a"}, [(1773144000, 1.0), (1773144060, -math.inf)])]
    path, _, form = fake.requests[0]
    assert path == "/api/v1/query_range"
    assert form == {"query": "up", "start": "1773144000", "end": "1773144060", "step": "60"}


def test_it_sends_the_token_as_a_bearer_token(fake):
    client(fake.url, token="s3cret").query("up", AT)
    client(fake.url).query("up", AT)

    assert fake.requests[0][1]["Authorization"] == "Bearer s3cret"
    assert "Authorization" not in fake.requests[1][1]


def test_a_base_url_with_a_path_is_kept(fake):
    client(fake.url + "/prometheus/").query("up", AT)

    assert fake.requests[0][0] == "/prometheus/api/v1/query"


def test_a_refused_connection(fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed

    with pytest.raises(PrometheusError) as error:
        client(f"http://127.0.0.1:{port}").query("up", AT)

    assert str(error.value) == (
        f"cannot reach Prometheus at http://127.0.0.1:{port}/api/v1/query: connection refused"
    )


def test_a_host_name_that_does_not_resolve():
    with pytest.raises(PrometheusError) as error:
        client("http://prometheus.invalid:9090").query("up", AT)

    assert str(error.value).startswith(
        "cannot reach Prometheus at http://prometheus.invalid:9090/api/v1/query: "
        "its host name does not resolve ("
    )


def test_an_answer_that_does_not_come_in_time(fake):
    fake.behaviour = "hang"

    assert failure(fake) == f"Prometheus at {fake.url}/api/v1/query did not answer within 0.5 s"


def test_an_answer_that_stops_half_way(fake):
    fake.behaviour = "hang_in_body"

    assert failure(fake) == f"Prometheus at {fake.url}/api/v1/query did not answer within 0.5 s"


def test_an_answer_cut_off_by_a_closed_connection(fake):
    fake.behaviour = "cut_off"

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query closed the connection before its answer was "
        "complete"
    )


def test_a_bad_query(fake):
    error = 'invalid parameter "query": 1:4: parse error: unexpected end of input'
    fake.answer(400, {"status": "error", "errorType": "bad_data", "error": error})

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query refused the query (bad_data, HTTP 400): {error}"
    )


def test_a_server_error_with_prometheus_own_words(fake):
    fake.answer(
        503, {"status": "error", "errorType": "timeout", "error": "query timed out in expression"}
    )

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query failed on the query (timeout, HTTP 503): "
        "query timed out in expression"
    )


def test_a_server_error_without_them(fake):
    fake.answer(500, "<html><body>Internal error</body></html>", "text/html")

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered HTTP 500 Internal Server Error"
    )


def test_a_refused_token(fake):
    fake.answer(401, {"message": "Unauthorized"})

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered HTTP 401 Unauthorized: "
        "check the source's token"
    )


def test_an_error_status_in_a_200(fake):
    fake.answer(200, {"status": "error", "errorType": "execution", "error": "too many samples"})

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query refused the query (execution): too many samples"
    )


def test_an_html_page_where_json_was_expected(fake):
    fake.answer(200, "<html>\n  <body>Please log in</body>\n</html>", "text/html; charset=utf-8")

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered with something that is not a Prometheus "
        "query result (text/html; charset=utf-8, beginning '<html> <body>Please log in</body> "
        "</html>')"
    )


def test_truncated_json(fake):
    fake.answer(200, json.dumps(VECTOR)[:50])

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered with something that is not a Prometheus "
        "query result (application/json, beginning "
        '\'{"status": "success", "data": {"resultType": "vect\')'
    )


@pytest.mark.parametrize(
    "result",
    [
        [{"metric": {"pod": "a"}, "value": [1773144000, 1.5]}],  # a number, not a string
        [{"metric": {"pod": "a"}}],
        [{"metric": {"pod": 1}, "value": [1773144000, "1"]}],
        [{"metric": ["pod"], "value": [1773144000, "1"]}],
        [{"metric": {}, "value": [1773144000.5, "1"]}],
        [["a"]],
        {"pod": "a"},
    ],
)
def test_a_result_that_is_not_a_list_of_series(fake, result):
    fake.answer(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered with something that is not a Prometheus "
        "query result (a result that is not a list of series)"
    )


def test_a_scalar_where_a_vector_was_asked_for(fake):
    fake.answer(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}})

    assert failure(fake) == (
        f"Prometheus at {fake.url}/api/v1/query answered with a scalar where a vector was asked "
        "for: the query must select series"
    )


def test_a_range_of_more_than_11000_steps_is_refused_before_it_is_sent(fake):
    end = AT + timedelta(minutes=11_001)

    with pytest.raises(PrometheusError) as error:
        client(fake.url).query_range("up", AT, end, 60)

    assert str(error.value) == (
        f"A query to Prometheus at {fake.url}/api/v1/query_range from 2026-03-10T12:00:00+00:00 "
        "to 2026-03-18T03:21:00+00:00 every 60 s has 11,001 steps, more than the 11,000 "
        "Prometheus allows: ask for shorter slices"
    )
    assert fake.requests == []


def test_messages_leave_out_a_password_in_the_url(fake):
    fake.answer(401, {})
    url = fake.url.replace("http://", "http://reader:hunter2@")

    with pytest.raises(PrometheusError) as error:
        client(url).query("up", AT)

    assert str(error.value).startswith(f"Prometheus at {fake.url}/api/v1/query answered HTTP 401")
    assert "hunter2" not in str(error.value)


def test_times_must_be_whole_seconds_with_a_time_zone(fake):
    with pytest.raises(ValueError, match="has no time zone"):
        client(fake.url).query("up", datetime(2026, 3, 10))
    with pytest.raises(ValueError, match="is not a whole second"):
        client(fake.url).query("up", AT + timedelta(milliseconds=1))


@pytest.fixture
def tls_fake(fake, tmp_path):
    """The fake Prometheus over TLS, with a self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake.socket = context.wrap_socket(fake.socket, server_side=True)
    return fake.url.replace("http://", "https://"), cert


def test_a_certificate_from_an_unknown_authority_is_refused(tls_fake):
    url, _ = tls_fake

    with pytest.raises(PrometheusError) as error:
        client(url).query("up", AT)

    assert str(error.value) == (
        f"cannot reach Prometheus at {url}/api/v1/query: its TLS certificate was refused "
        "(self-signed certificate)"
    )


def test_the_ca_file_makes_it_trusted(tls_fake):
    url, cert = tls_fake

    assert len(client(url, ca_file=str(cert)).query("up", AT)) == 3


def test_a_missing_ca_file(tls_fake):
    url, _ = tls_fake

    with pytest.raises(PrometheusError) as error:
        client(url, ca_file="/nonexistent/ca.pem").query("up", AT)

    assert str(error.value) == (
        f"cannot reach Prometheus at {url}/api/v1/query: Could not find a suitable TLS CA "
        "certificate bundle, invalid path: /nonexistent/ca.pem"
    )


# A real Prometheus: what it really sends is what the client reads.

HOUR = 3600
START = (int(time.time()) // HOUR - 48) * HOUR  # two days ago, on the hour
MINUTE_VALUES = [0.25 * (i % 9) for i in range(120)]  # two hours, one sample a minute


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> PrometheusServer:
    work = tmp_path_factory.mktemp("prometheus")
    with OpenMetricsWriter(work / "history.om") as om:
        for pod in ("a", "b"):
            points = [(START + 60 * i, v) for i, v in enumerate(MINUTE_VALUES)]
            om.gauge("gpu_util", {"namespace": "runai-vision", "pod": pod}, points)
    build_blocks(work / "history.om", work / "data")
    with PrometheusServer(work / "data", work) as server:
        yield server


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.prometheus
def test_a_real_instant_query(real):
    series = PrometheusClient(real.url).query("gpu_util", at(START + 600))

    assert series == [
        Series(
            {"__name__": "gpu_util", "namespace": "runai-vision", "pod": pod},
            [(START + 600, MINUTE_VALUES[10])],
        )
        for pod in ("a", "b")
    ]


@pytest.mark.prometheus
def test_a_real_range_query_with_hour_sums(real):
    query = "sum by (pod) (sum_over_time(gpu_util[3599s]))"
    series = PrometheusClient(real.url).query_range(
        query, at(START + HOUR - 1), at(START + 2 * HOUR - 1), HOUR
    )

    hours = [
        (START + HOUR - 1, sum(MINUTE_VALUES[:60])),
        (START + 2 * HOUR - 1, sum(MINUTE_VALUES[60:])),
    ]
    assert series == [Series({"pod": "a"}, hours), Series({"pod": "b"}, hours)]


@pytest.mark.prometheus
def test_real_special_values(real):
    series = PrometheusClient(real.url).query(
        'gpu_util{pod="a"} / 0 or label_replace(0 * gpu_util{pod="b"} / 0, "pod", "nan", "", "")',
        at(START + 600),
    )

    values = {s.labels["pod"]: s.points[0][1] for s in series}
    assert values["a"] == math.inf and math.isnan(values["nan"])


@pytest.mark.prometheus
def test_real_refusal_of_a_bad_query(real):
    with pytest.raises(PrometheusError) as error:
        PrometheusClient(real.url).query("sum(", at(START))

    assert str(error.value).startswith(
        f"Prometheus at {real.url}/api/v1/query refused the query (bad_data, HTTP 400): "
        'invalid parameter "query": '
    )


@pytest.mark.prometheus
def test_real_prometheus_draws_the_line_at_11000_steps_as_the_client_does(real):
    client = PrometheusClient(real.url)
    start = at(START)

    assert len(client.query_range("gpu_util", start, start + timedelta(minutes=11_000), 60)) == 2
    with pytest.raises(PrometheusError, match="11,001 steps"):
        client.query_range("gpu_util", start, start + timedelta(minutes=11_001), 60)
    params = {"query": "gpu_util", "start": START, "end": START + 60 * 11_001, "step": 60}
    url = f"{real.url}/api/v1/query_range?{urllib.parse.urlencode(params)}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert "exceeded maximum resolution of 11,000 points" in refused.value.read().decode()
