"""Building a report in a django-q2 worker (spec 4.2). Every way a build can end leaves the
report Ready or Failed, and no file without a report."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from consumption.aggregation import consumption_rows, parse_filters
from consumption.models import UsageSource
from consumption.pricing import PriceBook, PricingError

from .csv_export import summary, write_csv
from .delivery import create_deliveries, fail_abandoned, queue_deliveries, send_due
from .models import Delivery, DeliveryStatus, Report, ReportStatus, RunStatus, report_file_name

log = logging.getLogger(__name__)

FAILED_MESSAGE = (
    "The report could not be built. Try creating it again; if it fails again, ask an operator."
)
STUCK_MESSAGE = (
    "The build stopped before it finished (its worker died). Try creating the report again."
)
LOST_MESSAGE = (
    "No worker started this report's build, although it was queued {times} times. Ask an "
    "operator to check that the report workers are running, then create the report again."
)
MAX_ATTEMPTS = 3


def build_report(report_id: str) -> str:
    """Claim the report, aggregate, write the CSV, store it, mark it Ready."""
    if not _claim(report_id):
        return "not claimed: the report is gone, or another worker has it"
    report = Report.objects.get(pk=report_id)
    try:
        with _Heartbeat(report_id):
            name, size, rows, shown = _build(report)
    except PricingError as error:  # the report asks for costs that cannot be given
        _finish(report_id, ReportStatus.FAILED, str(error))
        return "failed"
    except Exception:
        log.exception("Building report %s failed", report_id)
        _finish(report_id, ReportStatus.FAILED, FAILED_MESSAGE)
        return "failed"
    with transaction.atomic():
        stored = _finish(
            report_id,
            ReportStatus.READY,
            freshness_message(report),
            file=name,
            file_size=size,
            row_count=rows,
            summary=shown,
        )
        # Ready with its deliveries, in one step: the sweeper sends any the task below misses.
        if stored and create_deliveries(report_id):
            transaction.on_commit(lambda: queue_deliveries(report_id))
    if not stored:
        # Deleted (or re-queued) while being built: leave no file behind.
        default_storage.delete(name)
        return "discarded: the report was deleted during the build"
    return "ready"


def freshness_message(report: Report) -> str:
    """What a Ready report says when its period reaches past the hours its usage sources have
    collected, so that nobody takes hours not yet collected for idle ones ("" otherwise)."""
    sources = UsageSource.objects.filter(tenant_id=report.tenant_id, enabled=True)
    clusters = parse_filters(report.filter_by).get("clusterId")
    if clusters:
        sources = sources.filter(cluster__uuid__in=clusters)
    until = sources.collected_until()
    if until is None or until >= report.end:
        return ""
    return (
        f"Usage collected up to {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: the later hours "
        "of the period are not in this report yet."
    )


def _claim(report_id: str) -> bool:
    # A conditional UPDATE: of two workers given the same report, only one changes a row.
    return Report.objects.filter(pk=report_id).claim() == 1


def _build(report: Report) -> tuple[str, int, int, dict]:
    prices = PriceBook(report.tenant, report.start, report.end) if report.costs else None
    rows = consumption_rows(**report.selection, **report.shape, prices=prices)
    columns = {"bucketed": bool(report.bucket), "currency": prices and prices.currency}
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as out:
        count = write_csv(out, report.group_by, rows, **columns)
        out.flush()
        size = out.tell()
        out.seek(0)
        key = report_file_name(report, "")
        # Storing under the same key again replaces the file: a second build leaves one file.
        if default_storage.exists(key):
            default_storage.delete(key)
        name = default_storage.save(key, File(out.buffer))
    return name, size, count, summary(report.group_by, rows, **columns)


def _finish(report_id: str, status: str, message: str, **fields) -> bool:
    """Set the outcome if the report is still ours (Processing); True if it was. One
    conditional UPDATE: a report deleted or re-queued meanwhile is left as it is."""
    processing = Report.objects.filter(pk=report_id, status=ReportStatus.PROCESSING)
    return processing.settle(status, message, **fields) == 1


class _Heartbeat:
    """Touches the report's heartbeat while the build runs, so that the sweeper can tell a
    slow build from a dead one."""

    def __init__(self, report_id: str):
        self.report_id = report_id
        self.stop = threading.Event()
        self.interval = max(1, settings.REPORT_HEARTBEAT_TIMEOUT_SECONDS // 4)

    def __enter__(self):
        self.thread = threading.Thread(target=self._beat, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        from django.db import connection

        try:
            while not self.stop.wait(self.interval):
                Report.objects.filter(pk=self.report_id, status=ReportStatus.PROCESSING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connection.close()


def sweep_stuck_builds() -> str:
    """Scheduled: a Processing report whose heartbeat stopped goes back to the queue, or is
    marked Failed after MAX_ATTEMPTS builds."""
    from .services import enqueue_build

    limit = timezone.now() - timedelta(seconds=settings.REPORT_HEARTBEAT_TIMEOUT_SECONDS)
    stuck = Report.objects.filter(status=ReportStatus.PROCESSING, heartbeat_at__lt=limit)
    failed = stuck.filter(build_attempts__gte=MAX_ATTEMPTS).fail(STUCK_MESSAGE)
    requeued = 0
    for report_id in stuck.filter(build_attempts__lt=MAX_ATTEMPTS).values_list("pk", flat=True):
        if Report.objects.filter(pk=report_id, status=ReportStatus.PROCESSING).requeue():
            enqueue_build(report_id)
            requeued += 1
    return f"{requeued} re-queued, {failed} failed"


def sweep_lost_builds(taken_before: datetime | None = None) -> str:
    """Scheduled: a report Pending for longer than REPORT_QUEUE_TIMEOUT_SECONDS whose build task
    is gone from the queue (a worker could not read it, a broker dropped it), or was taken by a
    cluster long ago and never started, is queued again; after MAX_ATTEMPTS it is marked Failed.
    `taken_before`: the tasks a cluster took before then are lost at once (that cluster was
    stopped)."""
    from .queue import queued_tasks
    from .services import enqueue_build

    now = timezone.now()
    limit = now - timedelta(seconds=settings.REPORT_QUEUE_TIMEOUT_SECONDS)
    pending = Report.objects.filter(status=ReportStatus.PENDING)
    lost = pending.filter(status_updated_at__lt=limit)
    # Reading the broker decodes every queued task: only when some report may be lost (this
    # runs every few seconds in run_worker).
    if taken_before is None and not lost.exists():
        return "0 re-queued, 0 failed"
    tasks = queued_tasks()
    if tasks is not None:

        def dropped(task) -> bool:  # taken by the cluster that was stopped
            return task.taken and taken_before is not None and task.since < taken_before

        def live(task) -> bool:  # waiting in the broker, or taken lately by a cluster
            return not dropped(task) and (not task.taken or task.since >= limit)

        lost = (lost | pending.filter(pk__in={t.report_id for t in tasks if dropped(t)})).exclude(
            pk__in={t.report_id for t in tasks if live(t) and t.report_id}
        )
    failed = requeued = 0
    for report_id, times, since in lost.values_list("pk", "times_queued", "status_updated_at"):
        # Conditional UPDATEs: a report claimed, deleted or re-queued meanwhile is left alone.
        still_lost = pending.filter(pk=report_id, status_updated_at=since)
        if times >= MAX_ATTEMPTS:
            failed += still_lost.fail(LOST_MESSAGE.format(times=times))
        elif still_lost.update(status_updated_at=now, times_queued=F("times_queued") + 1):
            enqueue_build(report_id)
            requeued += 1
    return f"{requeued} re-queued, {failed} failed"


def check_report_files(fix: bool = True) -> str:
    """Scheduled (and `check_report_files`): files under reports/ that belong to no report are
    deleted, and Ready reports whose file is missing are marked Failed. Returns what it found
    (and, with `fix`, did)."""
    from .files import check_files

    return check_files(fix=fix).summary()


def run_report_schedules() -> str:
    """Scheduled every minute: make the reports of the report schedules' due periods."""
    from .scheduling import run_due_schedules

    counts = Counter(run.status for run in run_due_schedules())
    return ", ".join(f"{counts[status]} {status.label.lower()}" for status in RunStatus)


def deliver_report(report_id: str) -> str:
    """Queued when a report made by a schedule is Ready: send its deliveries."""
    return _outcomes(send_due(Delivery.objects.filter(report_id=report_id)))


def sweep_deliveries() -> str:
    """Scheduled every minute: send the deliveries that are due (new ones whose task was lost,
    failed ones past their backoff, ones whose worker died), and mark Failed those whose worker
    died on their last attempt."""
    abandoned = fail_abandoned()
    return f"{_outcomes(send_due())}, {abandoned} abandoned"


def _outcomes(counts: Counter) -> str:
    return ", ".join(f"{counts[status]} {status.label.lower()}" for status in DeliveryStatus)


def ping() -> str:
    """A task that does nothing: `run_worker` queues it to see whether the workers take work."""
    return "pong"


def delete_expired_reports() -> str:
    """Scheduled: delete reports older than REPORT_RETENTION_DAYS (0 keeps them forever)."""
    days = settings.REPORT_RETENTION_DAYS
    if days <= 0:
        return "retention off"
    expired = Report.objects.filter(created_at__lt=timezone.now() - timedelta(days=days))
    return f"{expired.delete_with_files()} deleted"
