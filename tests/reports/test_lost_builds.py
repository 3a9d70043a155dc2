"""Builds lost before any worker took them (spec 4.2: queued builds that no worker took): a
report Pending for longer than REPORT_QUEUE_TIMEOUT_SECONDS whose task is no longer in the
queue, or was taken long ago and never started, is queued again, and fails after three tries.
The queue here is django-q2's real ORM broker; what it holds is read with django-q2's own
decoding."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import sweep_lost_builds
from tests.reports.conftest import MARCH

pytestmark = pytest.mark.django_db
TIMEOUT = 300


@pytest.fixture(autouse=True)
def queue_timeout(settings):
    settings.REPORT_QUEUE_TIMEOUT_SECONDS = TIMEOUT


@pytest.fixture
def queued(viewer, usage, django_capture_on_commit_callbacks) -> Report:
    with django_capture_on_commit_callbacks(execute=True):
        report = create_report(viewer, name="Queued", start=MARCH[0], end=MARCH[1])
    assert queued_builds() == [str(report.pk)]
    return report


def queued_builds() -> list[str]:
    return sorted(
        str(row.task["args"][0])
        for row in OrmQ.objects.all()
        if row.task.get("func") == "reports.tasks.build_report"
    )


def later(seconds: float):
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def take_the_task(seconds_ago: float = 0) -> None:
    """What a cluster does when it takes a task: lock it for Q_RETRY seconds."""
    taken_at = timezone.now() - timedelta(seconds=seconds_ago)
    OrmQ.objects.update(lock=taken_at + timedelta(seconds=Conf.RETRY))


def test_a_build_whose_task_left_the_queue_is_queued_again_after_the_timeout(queued):
    OrmQ.objects.all().delete()  # a worker that could not read it, or a broker that dropped it
    with later(TIMEOUT - 1):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"
    assert queued_builds() == []
    with later(TIMEOUT + 1):
        assert sweep_lost_builds() == "1 re-queued, 0 failed"
    assert queued_builds() == [str(queued.pk)]
    queued.refresh_from_db()
    assert (queued.status, queued.times_queued) == (ReportStatus.PENDING, 2)


def test_a_build_waiting_in_the_queue_is_left_alone_however_long(queued):
    with later(24 * 3600):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"
    assert queued_builds() == [str(queued.pk)]


def test_a_build_taken_lately_is_left_alone_and_one_taken_long_ago_is_lost(queued):
    take_the_task()
    with later(TIMEOUT - 1):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"
    with later(TIMEOUT + 1):
        assert sweep_lost_builds() == "1 re-queued, 0 failed"
    # The new task beside the old one: whichever a worker runs first claims the report.
    assert queued_builds() == [str(queued.pk)] * 2


def test_the_tasks_a_stopped_cluster_had_taken_are_lost_at_once(queued):
    take_the_task(seconds_ago=1)
    assert sweep_lost_builds() == "0 re-queued, 0 failed"
    assert sweep_lost_builds(taken_before=timezone.now()) == "1 re-queued, 0 failed"


def test_after_three_times_in_the_queue_it_fails_with_a_message(queued):
    for attempt in range(1, 4):
        OrmQ.objects.all().delete()
        with later(attempt * (TIMEOUT + 1)):
            outcome = sweep_lost_builds()
        assert outcome == ("1 re-queued, 0 failed" if attempt < 3 else "0 re-queued, 1 failed")
    queued.refresh_from_db()
    assert queued.status == ReportStatus.FAILED
    assert queued.status_message == (
        "No worker started this report's build, although it was queued 3 times. Ask an "
        "operator to check that the report workers are running, then create the report again."
    )


def test_a_report_that_left_the_queue_by_itself_is_left_alone(queued):
    OrmQ.objects.all().delete()
    Report.objects.filter(pk=queued.pk).update(status=ReportStatus.PROCESSING)
    with later(TIMEOUT + 1):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"
