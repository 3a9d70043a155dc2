"""A report's file and its row go together, in every interleaving of a real worker's build and
a delete (spec 4.2): many reports are deleted right after they are created, at random moments
around the end of their builds, and no file is left without its report."""

import random
import threading
import time

import pytest
from django.db import connection
from django_q.models import OrmQ

from reports.models import Report
from reports.services import create_report, delete_reports
from reports.tasks import build_report
from tests.reports.conftest import MARCH, stored_files
from tests.worker import start_worker, stop

PAIRS = 500


def wait_for_empty_queue(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while OrmQ.objects.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{OrmQ.objects.count()} tasks still queued after {timeout} s")
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_build_run_between_the_deletes_read_and_its_delete_leaves_no_file(
    viewer, usage, report_storage, no_queue
):
    report = create_report(viewer, name="Raced", start=MARCH[0], end=MARCH[1])
    outcome = []

    def build() -> None:
        try:
            outcome.append(build_report(str(report.pk)))
        finally:
            connection.close()

    builder = threading.Thread(target=build)

    def build_just_before_the_delete(execute, sql, params, many, context):
        if sql.startswith('DELETE FROM "reports_report"'):
            builder.start()
            builder.join(timeout=2)  # the whole build, unless it must wait for the delete
        return execute(sql, params, many, context)

    with connection.execute_wrapper(build_just_before_the_delete):
        delete_reports(viewer, [report])
    builder.join(timeout=30)
    assert not Report.objects.exists()
    assert stored_files() == []
    assert outcome in (
        ["ready"],
        ["discarded: the report was deleted during the build"],
        ["not claimed: the report is gone, or another worker has it"],
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_deleting_right_after_creating_never_leaves_a_file(viewer, usage, media):
    """PAIRS create-then-delete pairs against a real worker with two processes: each delete
    comes at a random moment before, during or just after its build (about 0.1 s)."""
    worker = start_worker(media, "manage.py", "qcluster", workers=2)
    chance = random.Random(20261201)
    kept = []
    try:
        for number in range(PAIRS):
            report = create_report(viewer, name=f"Race {number}", start=MARCH[0], end=MARCH[1])
            if number % 25 == 24:
                kept.append(report.pk)  # a few stay, so that the count has both sides
                continue
            if number % 3:
                wait_while_pending(report)
                time.sleep(chance.uniform(0, 0.15))
            delete_reports(viewer, [report])
        wait_for_empty_queue()
    finally:
        stop(worker)
    assert sorted(Report.objects.values_list("pk", flat=True)) == sorted(kept)
    ready = Report.objects.exclude(file="").values_list("file", flat=True)
    assert stored_files() == sorted(name.removeprefix("reports/") for name in ready)


def wait_while_pending(report: Report, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while Report.objects.filter(pk=report.pk, status="Pending").exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{report} still Pending after {timeout} s")
        time.sleep(0.005)
