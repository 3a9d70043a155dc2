"""Real servers for the tests that talk to one: an S3-compatible server (moto's, from PyPI) on a
free local port, an SMTP server (aiosmtpd's) and an HTTP server receiving webhooks, each in a
thread on a free local port, and the machine's Redis (`.ci/run` starts it when it is down)."""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

import boto3
import redis
from aiosmtpd.controller import Controller

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
S3_REGION = "us-east-1"
S3_KEYS = {"S3_ACCESS_KEY_ID": "test-access-key", "S3_SECRET_ACCESS_KEY": "test-secret-key"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Return once something listens on the port; fail if the process ends or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


class S3Server:
    """moto's standalone S3-compatible server on a free local port; its log goes to `log`."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = 0
        self._process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        program = shutil.which("moto_server", path=str(Path(sys.executable).parent))
        if program is None:
            raise RuntimeError("moto_server is not installed: `make test` installs moto[server]")
        self.port = free_port()
        self._process = subprocess.Popen(
            [program, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self._process)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEYS["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_KEYS["S3_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"reports-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        """Every object's key in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def environment(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The settings' environment variables for report files in this bucket."""
        return {
            "S3_BUCKET": bucket,
            "S3_PREFIX": prefix,
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_REGION": S3_REGION,
            **S3_KEYS,
        }

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


def redis_database() -> str:
    """The URL of database 15 of the machine's Redis, emptied for the caller."""
    url = f"{REDIS_URL.rstrip('/')}/15"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError as error:
        raise RuntimeError(
            f"Redis does not answer at {REDIS_URL} ({error}); start it with "
            "`redis-server --daemonize yes` (`.ci/run` does)"
        ) from None
    return url


class SMTPServer:
    """aiosmtpd's SMTP server on a free local port, keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.received: list[bytes] = []  # each message as it came
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) of each
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def port(self) -> int:
        return self._controller.port

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.received.append(envelope.content)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookServer:
    """An HTTP server (the standard library's) in a thread on a free local port: it keeps every
    POST it receives and answers each with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[ReceivedRequest] = []
        received, server = self.requests, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(ReceivedRequest(self.path, dict(self.headers), body))
                self.send_response(server.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/reports"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
