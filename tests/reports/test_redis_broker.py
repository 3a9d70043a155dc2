"""The queue in Redis (django-q2's Redis broker, on the machine's Redis): builds wait there, and
the sweeper of lost builds tells a build still waiting from one whose task a cluster took and
lost (Redis keeps no receipts). A real worker on Redis is in test_worker.py."""

from datetime import timedelta

import pytest
import redis
import time_machine
from django.utils import timezone

from reports.models import ReportStatus
from reports.queue import queued_tasks, worker_health
from reports.services import create_report
from reports.tasks import sweep_lost_builds
from tests.reports.conftest import MARCH

pytestmark = pytest.mark.django_db

QUEUE = "django_q:reports:q"


@pytest.fixture
def queue(redis_broker) -> redis.Redis:
    return redis.Redis.from_url(redis_broker)


@pytest.fixture
def queued(viewer, usage, queue, settings, django_capture_on_commit_callbacks):
    settings.REPORT_QUEUE_TIMEOUT_SECONDS = 300
    with django_capture_on_commit_callbacks(execute=True):
        report = create_report(viewer, name="Queued", start=MARCH[0], end=MARCH[1])
    return report


def test_a_new_report_waits_in_redis(queued, queue):
    assert queue.llen(QUEUE) == 1
    [task] = queued_tasks()
    assert (task.report_id, task.taken) == (str(queued.pk), False)
    assert abs(task.since - timezone.now()) < timedelta(seconds=5)
    assert worker_health().queued == 1


def test_a_build_waiting_in_redis_is_left_alone_however_long(queued, queue):
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"
    assert queue.llen(QUEUE) == 1


def test_a_build_taken_from_redis_and_lost_is_queued_again_after_the_timeout(
    queued, queue, django_capture_on_commit_callbacks
):
    queue.delete(QUEUE)  # a cluster took it, then died with it
    with time_machine.travel(timezone.now() + timedelta(seconds=200)):
        assert sweep_lost_builds() == "0 re-queued, 0 failed"  # it may still be building
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=301)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sweep_lost_builds() == "1 re-queued, 0 failed"
    [task] = queued_tasks()
    assert task.report_id == str(queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.times_queued) == (ReportStatus.PENDING, 2)
