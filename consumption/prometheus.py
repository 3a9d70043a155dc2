"""A client for Prometheus's query API (`/api/v1/query`, `/api/v1/query_range`).

Every failure, from an unreachable host to an answer of the wrong shape, raises `PrometheusError`
with a message an operator can act on; it names the URL asked, never the token.
"""

import json
import math
import socket
import ssl
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions

# Prometheus refuses a range query whose (end - start) / step exceeds this ("11,000 points").
MAX_STEPS = 11_000


class PrometheusError(Exception):
    """Prometheus could not be asked, or did not give a usable answer."""


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a result: its labels and its (unix seconds, value) points, oldest first."""

    labels: dict[str, str]
    points: list[tuple[int, float]]


class _BearerToken(requests.auth.AuthBase):
    # As an auth object rather than a header, so that requests never swaps in ~/.netrc's login.
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


class PrometheusClient:
    """Instant and range queries against one Prometheus (or anything serving its API). Threads
    may ask at once, each query on a connection of its own."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        # Given with each request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self._verify: str | bool = ca_file or True
        self._token = token
        # Sessions not in use, and all of them: as many as there were queries at once.
        self._idle: deque[requests.Session] = deque()
        self._sessions: list[requests.Session] = []

    def query(self, promql: str, at: datetime) -> list[Series]:
        """The instant vector `promql` gives at `at`."""
        params = {"query": promql, "time": _unix_seconds(at)}
        return self._ask("/api/v1/query", params, "vector")

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_seconds: int
    ) -> list[Series]:
        """The range vector of `promql` evaluated every `step_seconds` from `start` to `end`."""
        first, last = _unix_seconds(start), _unix_seconds(end)
        if step_seconds <= 0 or last < first:
            raise ValueError("query_range needs start <= end and a positive step")
        steps = math.ceil((last - first) / step_seconds)
        if steps > MAX_STEPS:
            raise PrometheusError(
                f"A query to Prometheus at {self._url('/api/v1/query_range')} from "
                f"{start.isoformat()} to {end.isoformat()} every {step_seconds} s has {steps:,} "
                f"steps, more than the {MAX_STEPS:,} Prometheus allows: ask for shorter slices"
            )
        params = {"query": promql, "start": first, "end": last, "step": step_seconds}
        return self._ask("/api/v1/query_range", params, "matrix")

    def close(self) -> None:
        for session in self._sessions:
            session.close()

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        """A session no other thread is using (requests does not promise that one may be
        shared)."""
        try:
            session = self._idle.pop()
        except IndexError:
            session = requests.Session()
            if self._token:
                session.auth = _BearerToken(self._token)
            session.headers["Accept"] = "application/json"
            self._sessions.append(session)
        try:
            yield session
        finally:
            self._idle.append(session)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _url(self, path: str) -> str:
        """The URL to show: without a user and password the base URL may carry."""
        parts = urlsplit(self.base_url + path)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _ask(self, path: str, params: dict[str, Any], result_type: str) -> list[Series]:
        """POSTs the query (a long PromQL does not fit every URL limit) and reads the series."""
        url = self._url(path)
        try:
            with self._session() as session:
                response = session.post(
                    self.base_url + path, data=params, timeout=self.timeout, verify=self._verify
                )
        except OSError as error:  # requests' errors, and a CA file that cannot be read
            raise PrometheusError(_transport_failure(url, error, self.timeout)) from None

        try:
            answer = json.loads(response.content)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and answer.get("status") == "error":
            raise PrometheusError(_refusal(url, answer, response))
        if not response.ok:
            raise PrometheusError(
                f"Prometheus at {url} answered HTTP {response.status_code} {response.reason}"
                + _http_hint(response.status_code)
            )
        try:
            got, result = answer["data"]["resultType"], answer["data"]["result"]
        except (KeyError, TypeError):
            raise _not_a_result(url, _describe(response)) from None
        if got != result_type:
            raise PrometheusError(
                f"Prometheus at {url} answered with a {got} where a {result_type} was asked for: "
                "the query must select series"
            )
        try:
            return [_series(item, result_type) for item in result]
        except (KeyError, TypeError, ValueError):
            raise _not_a_result(url, "a result that is not a list of series") from None


def _unix_seconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment} has no time zone")
    seconds = moment.timestamp()
    if not seconds.is_integer():
        raise ValueError(f"{moment} is not a whole second")
    return int(seconds)


def _series(item: dict, result_type: str) -> Series:
    labels = item["metric"]
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise TypeError("labels must be strings")
    pairs = [item["value"]] if result_type == "vector" else item["values"]
    return Series(labels, [_point(pair) for pair in pairs])


def _point(pair: list) -> tuple[int, float]:
    """[1712345600, "1.5"] as (1712345600, 1.5); "NaN", "+Inf" and "-Inf" included."""
    timestamp, value = pair
    if not isinstance(value, str) or not float(timestamp).is_integer():
        raise ValueError(f"{pair!r} is not a point")
    return int(timestamp), float(value)


def _refusal(url: str, answer: dict, response: requests.Response) -> str:
    kind = answer.get("errorType") or "no error type"
    message = answer.get("error") or "no message"
    http = "" if response.ok else f", HTTP {response.status_code}"
    verb = "failed on" if response.status_code >= 500 else "refused"
    return f"Prometheus at {url} {verb} the query ({kind}{http}): {message}"


def _not_a_result(url: str, detail: str) -> PrometheusError:
    return PrometheusError(
        f"Prometheus at {url} answered with something that is not a Prometheus query result "
        f"({detail})"
    )


def _describe(response: requests.Response) -> str:
    """What came instead: its type and first characters (a proxy's login page, cut-off JSON)."""
    kind = response.headers.get("Content-Type", "no content type")
    start = " ".join(response.text[:200].split())[:60]
    return f"{kind}, beginning {start!r}" if start else f"{kind}, empty"


def _http_hint(status: int) -> str:
    if status in (401, 403):
        return ": check the source's token"
    if status == 404:
        return ": check the base URL (the address that serves /api/v1/...)"
    return ""


def _transport_failure(url: str, error: OSError, timeout: float) -> str:
    chain = _chain(error)
    # A read that times out within the body arrives as a ConnectionError around urllib3's timeout.
    if isinstance(error, requests.exceptions.Timeout) or any(
        isinstance(cause, urllib3.exceptions.ReadTimeoutError) for cause in chain
    ):
        return f"Prometheus at {url} did not answer within {timeout:g} s"
    if any(isinstance(cause, urllib3.exceptions.ProtocolError) for cause in chain):
        return f"Prometheus at {url} closed the connection before its answer was complete"
    return f"cannot reach Prometheus at {url}: {_reason(chain) or error}"


def _reason(chain: list[BaseException]) -> str | None:
    """Why the connection failed, from the innermost cause that says it plainly."""
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate was refused ({cause.verify_message})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({cause.reason or cause})"
    for cause in reversed(chain):
        if isinstance(cause, socket.gaierror):
            return f"its host name does not resolve ({cause.strerror})"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    return None


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first (requests wraps urllib3, which wraps OSError)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo += [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return seen
