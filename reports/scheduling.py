"""Making the reports of report schedules: each due period of an active schedule exactly once,
however many workers do this at the same moment, after the scheduler was down, or after a
worker died midway (issue 16).

A period is claimed by inserting its ScheduleRun, in the same transaction as its report. The
database lets one insert of a schedule's period through (the unique constraint: a second worker
waits for the first to commit, then fails and leaves the period alone), and a worker that dies
before it commits leaves neither the run nor the report, so that the next call makes them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from reports_site.tenancy.models import ServiceAccount, Subject, User

from .models import Report, ReportSchedule, RunStatus, ScheduleRun
from .recurrence import Period
from .services import DuplicateReportName, create_report, free_name, settings_of

log = logging.getLogger(__name__)

SKIPPED_MESSAGE = (
    "Not made: the scheduler was not running when this period fell due, and only the latest "
    "{limit} missed periods are made."
)
# Tries at a free name, when other reports take the free ones as fast as they are found.
NAME_ATTEMPTS = 5


class RunFailure(Exception):
    """Why a period's report could not be made, in words for the schedule's owner."""


def run_due_schedules(now: datetime | None = None) -> list[ScheduleRun]:
    """Run the due periods of every active schedule (run_due_periods); the runs recorded here.
    One schedule's unexpected error is logged and stops neither the others nor its next try."""
    now = now or timezone.now()
    runs = []
    for schedule in ReportSchedule.objects.active():
        try:
            runs += run_due_periods(schedule, now)
        except Exception:
            log.exception("Running the report schedule %s failed", schedule.pk)
    return runs


def run_due_periods(schedule: ReportSchedule, now: datetime) -> list[ScheduleRun]:
    """The schedule's periods due by `now` that it has not run: the latest `catch_up_limit` of
    them are made, oldest first; older ones (the scheduler was down) are recorded as Skipped,
    so that the history shows the gap and they are not looked at again. The latest are the
    ones people want, and making every old one after long downtime would flood the queue. A
    failure pauses the schedule and ends its runs. Its reports beyond `keep_last` are then
    deleted."""
    unrun = _unrun_periods(schedule, now)
    limit = schedule.catch_up_limit
    missed, due = unrun[:-limit], unrun[-limit:]
    runs = []
    for period in missed:
        skipped = _claim(
            schedule, period, status=RunStatus.SKIPPED, message=SKIPPED_MESSAGE.format(limit=limit)
        )
        if skipped:
            runs.append(skipped)
    for period in due:
        run = make_run(schedule, period)
        if run is None:
            continue  # another worker has it
        runs.append(run)
        if run.status == RunStatus.FAILED:
            break  # the schedule paused itself
    if any(run.status == RunStatus.MADE for run in runs):
        prune(schedule)
    return runs


def run_now(schedule: ReportSchedule, now: datetime | None = None) -> ScheduleRun:
    """Make the report of the latest complete period at once, paused or not: as that period's
    run when the schedule has not run it yet (the scheduler does not make it again when it
    falls due), or else as a repeat beside the first, its name numbered (`GPU 2026-11 (2)`).
    A failure pauses the schedule, as a scheduled run's does."""
    period = schedule.recurrence.last_complete_period(now or timezone.now())
    run = make_run(schedule, period, on_demand=True) or make_run(
        schedule, period, on_demand=True, repeat=True
    )
    if run.status == RunStatus.MADE:
        prune(schedule)
    return run


def make_run(schedule: ReportSchedule, period: Period, **fields) -> ScheduleRun | None:
    """Claim the period and make its report as the schedule's owner, in one transaction; the
    run, Made or Failed (the schedule then paused with the reason), or None when another worker
    has claimed the period."""
    with transaction.atomic():
        run = _claim(schedule, period, status=RunStatus.MADE, **fields)
        if run is None:
            return None
        try:
            run.report = _make_report(schedule, period)
        except RunFailure as failure:
            run.status, run.message = RunStatus.FAILED, str(failure)
            ReportSchedule.objects.filter(pk=schedule.pk).pause(run.message)
        run.save(update_fields=["report", "status", "message"])
    return run


def prune(schedule: ReportSchedule) -> int:
    """Delete the schedule's reports beyond the `keep_last` it made last, with their files."""
    made_last_first = (
        ScheduleRun.objects.filter(schedule=schedule, report__isnull=False)
        .order_by("-pk")
        .values_list("report", flat=True)
    )
    older = list(made_last_first[schedule.keep_last :])
    return Report.objects.filter(pk__in=older).delete_with_files() if older else 0


def _unrun_periods(schedule: ReportSchedule, now: datetime) -> list[Period]:
    """The periods due after the schedule became active and by `now` that have no run, oldest
    first. The scheduler runs them in order, so only the periods from `catch_up_limit` before
    the latest one it ran are looked at: one of those lacks its run only where a worker died
    holding its claim while another ran a later period, and is made now. Run now may have run
    some of them."""
    recurrence = schedule.recurrence
    latest_start = (
        schedule.runs.filter(on_demand=False)
        .order_by("-period_start")
        .values_list("period_start", flat=True)
        .first()
    )
    since = schedule.active_since
    if latest_start is not None:
        period = recurrence.period_containing(latest_start)
        for _ in range(schedule.catch_up_limit):
            period = recurrence.period_before(period)
        since = max(since, period.start)
    periods = recurrence.due_periods(since, now)
    if not periods:
        return []
    run = set(
        schedule.runs.filter(
            repeat=False, period_start__in=[period.start for period in periods]
        ).values_list("period_start", flat=True)
    )
    return [period for period in periods if period.start not in run]


def _claim(schedule: ReportSchedule, period: Period, **fields) -> ScheduleRun | None:
    """Insert the period's run; None if another worker did (the unique constraint refuses a
    second run of a period, repeats aside)."""
    try:
        with transaction.atomic():
            return ScheduleRun.objects.create(
                schedule=schedule,
                period_start=period.start,
                period_end=period.end,
                period_label=period.label,
                **fields,
            )
    except IntegrityError:
        return None


def _make_report(schedule: ReportSchedule, period: Period) -> Report:
    """The period's report, made and queued as the owner, with the owner's permissions as they
    are now; named from the template, or with the first free number when the name is taken."""
    owner = _current_owner(schedule)
    name = schedule.report_name(period)
    for _ in range(NAME_ATTEMPTS):
        try:
            return create_report(
                owner,
                name=name,
                start=period.start,
                end=period.end,
                **settings_of(schedule),
            )
        except DuplicateReportName:
            name = free_name(schedule.tenant_id, name)
        except PermissionDenied:
            raise RunFailure(
                f"The owner, {schedule.owner_name}, may read no project any more, so can make "
                "no report."
            ) from None
        except ValidationError as error:
            raise RunFailure(f"The report could not be made: {_described(error)}") from None
    raise RunFailure(f"The report's name, {name!r}, and the numbered ones after it are taken.")


def _current_owner(schedule: ReportSchedule) -> Subject:
    """The owner as the database has it now; RunFailure when it is gone, deactivated or of
    another tenant."""
    if schedule.owner_user_id:
        owner = User.objects.filter(pk=schedule.owner_user_id).first()
    else:
        owner = ServiceAccount.objects.filter(pk=schedule.owner_service_account_id).first()
    if owner is None:
        raise RunFailure(f"The owner, {schedule.owner_name}, no longer exists.")
    if not owner.is_active:
        raise RunFailure(f"The owner, {schedule.owner_name}, is deactivated.")
    if owner.tenant_id != schedule.tenant_id:
        raise RunFailure(f"The owner, {schedule.owner_name}, is no longer of this tenant.")
    return owner


def _described(error: ValidationError) -> str:
    """The messages of a report's ValidationError, each after its field's name."""
    if not hasattr(error, "error_dict"):
        return " ".join(error.messages)
    return " ".join(
        f"{Report._meta.get_field(field).verbose_name.capitalize()}: {' '.join(messages)}"
        if field != "__all__"
        else " ".join(messages)
        for field, messages in error.message_dict.items()
    )
