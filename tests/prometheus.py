"""A real Prometheus with history, for tests.

History is written as OpenMetrics text (`OpenMetricsWriter`), turned into TSDB blocks by promtool
(`build_blocks`) and served by a Prometheus on a free local port (`PrometheusServer`). Debian's
`prometheus` package (2.42) brings both programs; `make test` installs it when it can.
"""

import math
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import pytest

from tests.servers import free_port

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def require(program: str) -> str:
    """The program's path; fails the test, saying how to get it, when it is not installed."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(
            f"{program} is not installed, so the Prometheus tests cannot run. `make test` installs "
            "Debian's prometheus package when it can (apt-get install prometheus, as root); "
            "SKIP_PROMETHEUS_TESTS=1 leaves these tests out.",
            pytrace=False,
        )
    return path


class OpenMetricsWriter:
    """Writes series, one whole series at a time, as the OpenMetrics text promtool reads.

    OpenMetrics wants every sample of a family together and each series' timestamps increasing;
    the writer refuses anything else, so a mistake shows here rather than as promtool's error.
    Series are streamed to the file: history of any length takes little memory.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self._family: str | None = None
        self._families_done: set[str] = set()
        self._series_done: set[tuple[tuple[str, str], ...]] = set()

    def gauge(
        self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]
    ) -> None:
        """One gauge series: `points` are (unix seconds, value)."""
        self._series(name, name, "gauge", labels, points)

    def counter(
        self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]
    ) -> None:
        """One counter series, named as PromQL sees it (`..._total`)."""
        if not name.endswith("_total"):
            raise ValueError(f"a counter's samples are named ..._total, not {name}")
        self._series(name.removesuffix("_total"), name, "counter", labels, points)

    def close(self) -> None:
        if not self._file.closed:
            self._file.write("# EOF\n")
            self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _series(
        self,
        family: str,
        name: str,
        kind: Literal["gauge", "counter"],
        labels: Mapping[str, str],
        points: Iterable[tuple[float, float]],
    ) -> None:
        if not _METRIC_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a metric name")
        if family != self._family:
            if family in self._families_done:
                raise ValueError(f"{family}'s series must be written together, not after others")
            if self._family is not None:
                self._families_done.add(self._family)
            self._family = family
            self._series_done = set()
            self._file.write(f"# TYPE {family} {kind}\n")
        key = tuple(sorted(labels.items()))
        if key in self._series_done:
            raise ValueError(f"{name}{dict(key)} was already written; write a series at once")
        self._series_done.add(key)
        prefix = name + _labels(labels)
        previous = -math.inf
        for timestamp, value in points:
            if timestamp <= previous:
                raise ValueError(f"{prefix}: timestamp {timestamp} does not follow {previous}")
            previous = timestamp
            self._file.write(f"{prefix} {_number(value)} {_number(timestamp)}\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    for label in labels:
        if not _LABEL_NAME.fullmatch(label):
            raise ValueError(f"{label!r} is not a label name")
    pairs = ",".join(f'{label}="{_escape(value)}"' for label, value in sorted(labels.items()))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if isinstance(value, int) or value.is_integer():
        return str(int(value))
    return repr(float(value))


def build_blocks(openmetrics: Path, data_dir: Path) -> None:
    """Turns an OpenMetrics file into TSDB blocks in `data_dir` (promtool, 2-hour blocks)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", "--quiet"]
        + [str(openmetrics), str(data_dir)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"promtool could not turn {openmetrics} into blocks (exit {done.returncode}):\n"
            + done.stdout
            + done.stderr
        )


class PrometheusServer:
    """A Prometheus serving the blocks in `data_dir` on a free local port, scraping nothing.

    Its configuration and its log (`prometheus.log`) go in `work_dir`. The retention is ten years,
    so that old history is not dropped; `lookback_delta` is how far back an instant selector looks
    for a sample (Prometheus's default is 5m).
    """

    def __init__(
        self,
        data_dir: Path,
        work_dir: Path,
        *,
        lookback_delta: str = "5m",
        ready_timeout: float = 30.0,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = work_dir / "prometheus.log"
        self.config_path = work_dir / "prometheus.yml"
        self.lookback_delta = lookback_delta
        self.ready_timeout = ready_timeout
        self.url = ""
        self._port = 0
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        self.config_path.write_text("global: {}\nscrape_configs: []\n")
        # The free port could be taken between our probe and Prometheus's bind; try another then.
        for _ in range(3):
            port = free_port()
            self._launch(port)
            if self._wait_until_ready():
                self.url = f"http://127.0.0.1:{port}"
                return
            if "address already in use" not in self.log():
                break
        assert self._process is not None
        code = self._process.poll()
        self.stop()
        why = (
            f"exited ({code})" if code is not None else f"was not ready in {self.ready_timeout:g} s"
        )
        raise RuntimeError(f"Prometheus {why}; its log ({self.log_path}):\n{self.log()}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _launch(self, port: int) -> None:
        self.stop()
        with self.log_path.open("a") as log:
            self._process = subprocess.Popen(
                [
                    require("prometheus"),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.data_dir}",
                    "--storage.tsdb.retention.time=3650d",
                    f"--web.listen-address=127.0.0.1:{port}",
                    f"--query.lookback-delta={self.lookback_delta}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._port = port

    def _wait_until_ready(self) -> bool:
        """True once /-/ready answers 200; False if Prometheus exits or time runs out."""
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                url = f"http://127.0.0.1:{self._port}/-/ready"
                with _direct.open(url, timeout=1) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False


# Local addresses only: a proxy from the environment must not come between.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
