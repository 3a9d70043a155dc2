"""What django-q2's queue holds and whether its workers get through it: read by the sweeper of
lost builds, `worker_health` and `run_worker`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.models import OrmQ, Task
from django_q.signing import SignedPackage

from .models import Report, ReportStatus

BUILD_TASK = "reports.tasks.build_report"


@dataclass(frozen=True)
class QueuedTask:
    report_id: str | None  # the report, for a build
    since: datetime  # when it was queued, or when a cluster took it
    taken: bool  # a cluster has taken it and not yet acknowledged it


def queued_tasks() -> list[QueuedTask] | None:
    """The tasks in the broker, or None when it cannot be read (a broker of another kind).

    The ORM broker keeps a task that a cluster took until the cluster acknowledges it; Redis
    keeps only the tasks that no cluster has taken yet, so on Redis a task taken by a cluster
    that died is known only by its report staying Pending."""
    broker = get_broker()
    if isinstance(broker, ORM):
        return _orm_tasks(broker)
    if isinstance(broker, Redis):
        return [
            QueuedTask(_report_id(task), since=task.get("started") or timezone.now(), taken=False)
            for task in map(_decoded, broker.connection.lrange(broker.list_key, 0, -1))
        ]
    return None


def _orm_tasks(broker: ORM) -> list[QueuedTask]:
    now = timezone.now()
    retry = timedelta(seconds=Conf.RETRY)
    found = []
    for row in OrmQ.objects.using(Conf.ORM).filter(key=broker.list_key):
        # A cluster that takes a task locks it for RETRY seconds, and then it is offered again.
        taken = row.lock is not None and row.lock > now
        since = (row.lock - retry) if taken else (row.lock or now)
        found.append(QueuedTask(_report_id(row.task), since, taken))
    return found


def _decoded(payload: bytes) -> dict:
    """A task as the broker holds it; an unreadable one as a placeholder without "func" (as
    django-q2's OrmQ.task does)."""
    try:
        return SignedPackage.loads(payload)
    except Exception as error:
        return {"id": f"*{error.__class__.__name__}"}


def _report_id(task: dict) -> str | None:
    """The report of a build task."""
    args = task.get("args") or ()
    return str(args[0]) if task.get("func") == BUILD_TASK and args else None


@dataclass(frozen=True)
class Health:
    healthy: bool
    queued: int | None  # tasks in the broker (None: it cannot be read)
    pending: int  # reports waiting for a build
    waiting_since: datetime | None
    last_activity: datetime | None  # a task finished, or a build's heartbeat

    def describe(self, now: datetime | None = None) -> str:
        now = now or timezone.now()

        def ago(moment: datetime | None) -> str:
            return "never" if moment is None else f"{(now - moment).total_seconds():.0f} s ago"

        state = "working" if self.healthy else "STALLED"
        queued = "unknown" if self.queued is None else self.queued
        return (
            f"{state}: {queued} task(s) queued, {self.pending} report(s) pending, the oldest "
            f"waiting since {ago(self.waiting_since)}; last task or build activity "
            f"{ago(self.last_activity)}"
        )


def worker_health(
    stall_seconds: int | None = None, since: datetime | None = None, now: datetime | None = None
) -> Health:
    """Stalled when work has waited longer than `stall_seconds` (counted from `since` at the
    earliest: a cluster's start) and in all that time no task finished and no build beat its
    heartbeat: the workers are not taking work, whatever the reason (none running, or a cluster
    whose pool is jammed). Work is a report waiting for its build, or a task in the broker that
    no cluster has taken (one that a cluster took is its business until the broker offers it
    again: the sweeper of lost builds looks after those)."""
    stall = timedelta(seconds=stall_seconds or settings.WORKER_STALL_SECONDS)
    now = now or timezone.now()
    tasks = queued_tasks()
    pending = Report.objects.filter(status=ReportStatus.PENDING)
    waiting_times = [task.since for task in tasks or [] if not task.taken]
    oldest_pending = pending.order_by("status_updated_at").values_list(
        "status_updated_at", flat=True
    )[:1]
    waiting_times.extend(oldest_pending)
    waiting_since = min(waiting_times, default=None)
    if waiting_since and since:
        waiting_since = max(waiting_since, since)
    activity = [
        Task.objects.aggregate(last=Max("stopped"))["last"],
        Report.objects.filter(status=ReportStatus.PROCESSING).aggregate(last=Max("heartbeat_at"))[
            "last"
        ],
    ]
    last_activity = max((moment for moment in activity if moment), default=None)
    stalled = (
        waiting_since is not None
        and now - waiting_since > stall
        and (last_activity is None or now - last_activity > stall)
    )
    return Health(
        healthy=not stalled,
        queued=None if tasks is None else len(tasks),
        pending=pending.count(),
        waiting_since=waiting_since,
        last_activity=last_activity,
    )
