"""Builds through a real `qcluster` process, not sync mode, with the ORM broker and with Redis: a
report gets built, a scheduled one delivered, and a worker killed in the middle of a build does
not leave it Processing."""

import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest

from reports.models import Delivery, DeliveryStatus, DeliveryTarget, ReportSchedule, ReportStatus
from reports.scheduling import run_now
from reports.services import create_report
from reports.tasks import sweep_stuck_builds
from tests.reports.conftest import MARCH
from tests.servers import WebhookServer
from tests.worker import HEARTBEAT_TIMEOUT, kill, start_worker, stop, wait_for


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("broker")
class TestRealWorker:
    def test_a_worker_builds_the_report(self, viewer, usage, media):
        report = create_report(viewer, name="Built by a worker", start=MARCH[0], end=MARCH[1])
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            report = wait_for(report, ReportStatus.READY, ReportStatus.FAILED)
        finally:
            stop(worker)
        assert report.status == ReportStatus.READY
        assert report.row_count == 4
        assert (media / "reports" / f"{report.pk}.csv").read_text().startswith("Cluster,")

    def test_a_worker_builds_a_scheduled_report_then_delivers_it(self, viewer, usage, media):
        schedule = ReportSchedule(
            tenant=viewer.tenant, name="GPU usage", frequency="monthly", day_of_month=1
        )
        schedule.set_owner(viewer)
        schedule.save()
        with WebhookServer() as webhook:
            target = DeliveryTarget.objects.create(
                schedule=schedule, kind="webhook", url=webhook.url
            )
            run = run_now(schedule, now=datetime(2026, 4, 2, tzinfo=UTC))
            worker = start_worker(
                media, "manage.py", "qcluster", SITE_URL="https://reports.example.com"
            )
            try:
                wait_for(run.report, ReportStatus.READY, ReportStatus.FAILED)
                delivery = wait_for_delivery(run.report)
            finally:
                stop(worker)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
        [request] = webhook.requests
        expected = hmac.new(target.secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Signature-256"] == f"sha256={expected}"

    def test_a_report_whose_worker_was_killed_is_rescued(self, viewer, usage, media, settings):
        settings.REPORT_HEARTBEAT_TIMEOUT_SECONDS = HEARTBEAT_TIMEOUT
        report = create_report(viewer, name="Interrupted", start=MARCH[0], end=MARCH[1])
        slow = start_worker(media, "-m", "tests.reports.slow_worker")
        try:
            wait_for(report, ReportStatus.PROCESSING)
        finally:
            kill(slow)  # the whole cluster, mid-build, without warning
        time.sleep(HEARTBEAT_TIMEOUT + 1)
        report.refresh_from_db()
        assert report.status == ReportStatus.PROCESSING  # nobody finished it...

        assert sweep_stuck_builds() == "1 re-queued, 0 failed"  # ...until the sweeper runs
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            report = wait_for(report, ReportStatus.READY, ReportStatus.FAILED)
        finally:
            stop(worker)
        assert report.status == ReportStatus.READY
        assert report.build_attempts == 2
        assert [p.name for p in (media / "reports").iterdir()] == [f"{report.pk}.csv"]


def wait_for_delivery(report, timeout: float = 60) -> Delivery:
    """The report's one delivery, once it is no longer Pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = Delivery.objects.filter(report=report).first()
        if delivery is not None and delivery.status != DeliveryStatus.PENDING:
            return delivery
        time.sleep(0.2)
    raise AssertionError(f"no delivery of {report.name} settled after {timeout} s")
