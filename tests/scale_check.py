"""`make scale-check`: the site on several processes at once, as a team runs it on several hosts.

On a new PostgreSQL database, with the queue and the cache in Redis and report files in a real
S3-compatible server (moto's), it starts two gunicorn web servers and two `qcluster` workers,
creates REPORTS reports through the API (alternately on each web server), kills one worker with
SIGKILL halfway, and checks that:

- every report ends Ready (the survivor's sweepers rescue what the dead worker held);
- the bucket holds each Ready report's file once, and nothing else;
- a download through either web server gives the same bytes, those of the object;
- failed token requests are counted across both web servers.

It prints the time from the first create to the last Ready and the p50/p95 of creation to Ready.
Uses the machine's PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379, database
14, which it empties); `make scale-check` starts them when they are down.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
import requests

from tests.servers import REDIS_URL, S3Server, free_port, wait_for_port

BASE_DIR = Path(__file__).resolve().parent.parent
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
GROUPINGS = ("Project", "Department", "Cluster", "Nodepool")
TOKEN_MAX_FAILURES = 10
S3_PREFIX = "scale"


@dataclass
class Outcome:
    reports: int
    first_create_to_last_ready: float = math.nan
    p50: float = math.nan
    p95: float = math.nan
    rescued: int = 0  # reports built more than once, or queued again
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"{self.reports} reports through 2 web servers and 2 workers (one killed halfway)",
            f"first create to last Ready: {self.first_create_to_last_ready:.2f} s",
            f"creation to Ready: p50 {self.p50 * 1000:.0f} ms, p95 {self.p95 * 1000:.0f} ms "
            f"({self.rescued} rescued from the killed worker)",
        ]
        lines += [f"PROBLEM: {problem}" for problem in self.problems] or ["all checks passed"]
        return "\n".join(lines)


class Site:
    """The processes of the site, and the database, Redis database and bucket they share."""

    def __init__(self, work_dir: Path, s3: S3Server) -> None:
        self.work_dir = work_dir
        self.s3 = s3
        self.database = f"reports_scale_{uuid.uuid4().hex[:8]}"
        self.bucket = s3.new_bucket()
        self.redis_url = f"{REDIS_URL.rstrip('/')}/14"
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "reports_site.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on loopback.
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_URL": f"{POSTGRES}/{self.database}",
            "REDIS_URL": self.redis_url,
            **s3.environment(self.bucket, prefix=S3_PREFIX),
            "VAR_DIR": str(work_dir / "var"),
            "STATIC_ROOT": str(work_dir / "static"),
            "Q_WORKERS": "2",
            # What the dead worker held is rescued within a minute or two, not five.
            "REPORT_HEARTBEAT_TIMEOUT_SECONDS": "5",
            "REPORT_QUEUE_TIMEOUT_SECONDS": "15",
            "API_TOKEN_MAX_FAILURES": str(TOKEN_MAX_FAILURES),
            "LOG_LEVEL": "WARNING",
        }

    def set_up(self) -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.database}"')
        redis.Redis.from_url(self.redis_url).flushdb()
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        self.manage("seed_demo", "--days", "8", "--verbosity", "0")

    def tear_down(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self, name: str, *command: str) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=(self.work_dir / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to be killed whole
        )
        self.processes.append(process)
        return process

    def start_web(self, name: str) -> str:
        port = free_port()
        process = self.start(
            name,
            sys.executable,
            "-m",
            "gunicorn",
            "reports_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--no-control-socket",  # its default path is one per user, not per server
        )
        wait_for_port(port, process)
        return f"http://127.0.0.1:{port}"

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.start(name, sys.executable, "manage.py", "qcluster")

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(f"{POSTGRES}/{self.database}") as connection:
            return connection.execute(sql, params).fetchall()


def run(reports: int = 200, work_dir: Path | None = None, out=sys.stdout) -> Outcome:
    """Run the check; the processes' logs stay in `work_dir` (a temporary folder, kept only when
    something failed, unless given)."""
    keep = work_dir is not None
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix="scale-check-"))
    outcome = Outcome(reports)
    finished = False
    try:
        with S3Server(work_dir / "s3.log") as s3:
            site = Site(work_dir, s3)
            print(f"setting up database {site.database}, Redis {site.redis_url}", file=out)
            try:
                _exercise(site, outcome, reports, out)
            finally:
                site.tear_down()
        finished = True
    finally:
        if keep or not finished or outcome.problems:
            print(f"logs of the processes: {work_dir}", file=out)
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(outcome.summary(), file=out)
    return outcome


def _exercise(site: Site, outcome: Outcome, reports: int, out) -> None:
    site.set_up()
    account = site.manage("create_service_account", "scale-check", "--tenant", "demo", "--json")
    site.manage("grant", "sa:scale-check", "--role", "Viewer", "--scope", "tenant")
    webs = [site.start_web("web-1"), site.start_web("web-2")]
    workers = [site.start_worker("worker-1"), site.start_worker("worker-2")]
    client = Client(webs, json.loads(account))
    print(f"web servers {', '.join(webs)}; two workers", file=out)

    ids = client.create(range(reports // 2))
    os.killpg(workers[0].pid, signal.SIGKILL)
    print(f"created {len(ids)} reports, then killed worker-1 with SIGKILL", file=out)
    ids += client.create(range(reports // 2, reports))
    print(f"created {len(ids)} reports; waiting for every one to settle", file=out)
    _wait_until_settled(site, ids, timeout=300)

    _check_reports(site, ids, outcome)
    _check_bucket(site, outcome)
    _check_downloads(site, client, ids, outcome)
    _check_token_throttle(webs, outcome)


class Client:
    """The API, through the web servers in turn."""

    def __init__(self, webs: list[str], account: dict) -> None:
        self.webs = webs
        answer = requests.post(
            f"{webs[0]}/api/v1/token",
            json={
                "grantType": "client_credentials",
                "clientID": account["clientId"],
                "clientSecret": account["clientSecret"],
            },
            timeout=30,
        )
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self.period = (today - timedelta(days=7), today)

    def create(self, numbers) -> list[str]:
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(self._create, numbers))

    def _create(self, number: int) -> str:
        start, end = self.period
        answer = requests.post(
            f"{self.webs[number % len(self.webs)]}/api/v1/org-unit/reports",
            json={
                "name": f"Scale check {number}",
                "start": start.isoformat().replace("+00:00", "Z"),
                "end": end.isoformat().replace("+00:00", "Z"),
                "groupBy": GROUPINGS[number % len(GROUPINGS)],
            },
            headers=self.headers,
            timeout=30,
        )
        if answer.status_code != 202:
            raise RuntimeError(f"creating report {number}: {answer.status_code} {answer.text}")
        return answer.json()["id"]

    def download(self, web: str, report_id: str) -> bytes:
        answer = requests.get(
            f"{web}/api/v1/org-unit/reports/{report_id}/file", headers=self.headers, timeout=60
        )
        answer.raise_for_status()
        return answer.content


def _wait_until_settled(site: Site, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(unsettled,)] = site.query(
            "SELECT count(*) FROM reports_report WHERE id = ANY(%s) "
            "AND status NOT IN ('Ready', 'Failed')",
            ([uuid.UUID(report_id) for report_id in ids],),
        )
        if not unsettled:
            return
        time.sleep(0.5)


def _check_reports(site: Site, ids: list[str], outcome: Outcome) -> None:
    rows = site.query(
        "SELECT status, status_message, created_at, status_updated_at, build_attempts, "
        "times_queued FROM reports_report WHERE id = ANY(%s)",
        ([uuid.UUID(report_id) for report_id in ids],),
    )
    if len(rows) != len(ids):
        outcome.problems.append(f"{len(ids) - len(rows)} created reports are gone")
    not_ready = [(status, message) for status, message, *_ in rows if status != "Ready"]
    if not_ready:
        outcome.problems.append(f"{len(not_ready)} reports did not end Ready: {not_ready[:5]}")
    ready = [row for row in rows if row[0] == "Ready"]
    if not ready:
        return
    took = sorted((updated - created).total_seconds() for _, _, created, updated, *_ in ready)
    outcome.p50 = statistics.median(took)
    outcome.p95 = took[math.ceil(0.95 * len(took)) - 1]
    outcome.first_create_to_last_ready = (
        max(row[3] for row in ready) - min(row[2] for row in rows)
    ).total_seconds()
    outcome.rescued = sum(1 for *_, attempts, queued in ready if attempts > 1 or queued > 1)


def _check_bucket(site: Site, outcome: Outcome) -> None:
    """Every Ready report's file is in the bucket, under its own key, and nothing else is."""
    files = [name for (name,) in site.query("SELECT file FROM reports_report WHERE file <> ''")]
    expected = sorted(f"{S3_PREFIX}/{name}" for name in files)
    keys = sorted(site.s3.keys(site.bucket))
    if keys != expected:
        extra, missing = sorted(set(keys) - set(expected)), sorted(set(expected) - set(keys))
        outcome.problems.append(
            f"the bucket holds {len(keys)} objects for {len(expected)} report files; "
            f"without a report: {extra[:5]}, missing: {missing[:5]}"
        )


def _check_downloads(site: Site, client: Client, ids: list[str], outcome: Outcome) -> None:
    def both(report_id: str) -> list[str]:
        stored = (
            site.s3.client()
            .get_object(Bucket=site.bucket, Key=f"{S3_PREFIX}/reports/{report_id}.csv")["Body"]
            .read()
        )
        return [
            f"{report_id} through {web} differs from its object"
            for web in client.webs
            if client.download(web, report_id) != stored
        ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        for differences in pool.map(both, ids):
            outcome.problems.extend(differences)


def _check_token_throttle(webs: list[str], outcome: Outcome) -> None:
    """TOKEN_MAX_FAILURES wrong secrets, alternately on each web server, lock the client ID on
    both: each process alone has seen only half of them."""

    def ask(web: str) -> int:
        return requests.post(
            f"{web}/api/v1/token",
            json={
                "grantType": "client_credentials",
                "clientID": "scale-check-guess",
                "clientSecret": "wrong",
            },
            timeout=30,
        ).status_code

    answers = [ask(webs[n % 2]) for n in range(TOKEN_MAX_FAILURES)]
    locked = [ask(web) for web in webs]
    if answers != [401] * TOKEN_MAX_FAILURES or locked != [429, 429]:
        outcome.problems.append(
            f"token failures were not counted across the web servers: {answers} then {locked}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--work-dir", type=Path, help="keep the processes' logs here")
    options = parser.parse_args()
    if options.work_dir:
        options.work_dir.mkdir(parents=True, exist_ok=True)
    return 1 if run(options.reports, options.work_dir).problems else 0


if __name__ == "__main__":
    sys.exit(main())
