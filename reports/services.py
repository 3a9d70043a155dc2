"""Creating and deleting reports, and saving report schedules: the one path that the pages, the
API, the admin and the commands share, so that the same rules hold everywhere."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from consumption.buckets import DEFAULT_TIME_ZONE
from consumption.measures import Segment
from reports_site.lookups import plain_rows
from reports_site.tenancy import permissions
from reports_site.tenancy.models import Project, ServiceAccount, Subject

from .models import NAME_MAX_LENGTH, Report, ReportSchedule
from .recurrence import Frequency


class DuplicateReportName(ValidationError):
    """Another report of the tenant has this name (the API answers 409)."""


def create_report(
    subject: Subject,
    *,
    name: str,
    start: datetime,
    end: datetime,
    description: str = "",
    group_by: str | None = None,
    filter_by: Iterable[str] = (),
    bucket: str | None = None,
    time_zone: str | None = None,
    costs: bool = False,
) -> Report:
    """Validate, save as Pending (QUEUED_MESSAGE) and queue the build once the transaction
    commits. Raises PermissionDenied for a subject that may read no project, ValidationError
    (by field) for bad input, DuplicateReportName for a name the tenant already uses."""
    readable = Project.objects.permitted(subject, "read").order_by()  # sorted here, as ids
    project_ids = sorted(pk for (pk,) in plain_rows(readable.values_list("pk")))
    if not project_ids:
        raise PermissionDenied("You need read access to at least one project to create a report.")
    report = checked_report(
        name=name,
        description=description,
        start=start,
        end=end,
        group_by=group_by,
        filter_by=filter_by,
        bucket=bucket,
        time_zone=time_zone,
        costs=costs,
        tenant_id=permissions.subject_tenant_id(subject),
        created_by=_creator_label(subject),
        project_ids=project_ids,
        **_creator_fields(subject),
    )
    if Report.objects.named(report.tenant_id, report.name).exists():
        raise _duplicate(report.name)
    try:
        with transaction.atomic():
            report.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_build(report.pk))
    except IntegrityError:
        # A simultaneous request took the name between the check and the insert.
        raise _duplicate(report.name) from None
    return report


def run_again(subject: Subject, report: Report) -> Report:
    """A new report with the settings of `report` (description, period, segment, filters,
    buckets, costs), named after it with the first free number ("March (2)"), made and
    queued as any other."""
    return create_report(
        subject,
        name=free_name(report.tenant_id, report.name),
        start=report.start,
        end=report.end,
        **settings_of(report),
    )


# What a report is made of besides its name and period: what Run again and schedules copy.
SETTINGS = ("description", "group_by", "filter_by", "bucket", "time_zone", "costs")


def settings_of(source) -> dict:
    """The SETTINGS of a report, or of a schedule that makes reports, as create_report takes
    them."""
    return {field: getattr(source, field) for field in SETTINGS}


def free_name(tenant_id: int, name: str) -> str:
    """`name` with the first number its tenant does not use yet: "March (2)", then "March (3)";
    a name that has a number already counts on from it."""
    stem = re.sub(r" \(\d+\)$", "", name)
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = stem[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if not Report.objects.named(tenant_id, candidate).exists():
            return candidate
        number += 1


# What a creator gives; the rest of a report is the service's to set.
_GIVEN = {
    "name",
    "description",
    "start",
    "end",
    "group_by",
    "filter_by",
    "bucket",
    "time_zone",
    "costs",
}


def checked_report(
    *,
    name: str,
    description: str,
    start: datetime,
    end: datetime,
    group_by: str | None,
    filter_by: Iterable[str],
    bucket: str | None = None,
    time_zone: str | None = None,
    costs: bool = False,
    **fields,
) -> Report:
    """An unsaved report of these fields (text stripped, segmented by project unless said, one
    row per segment over the whole period in UTC unless said), checked by the report's own
    rules: a ValidationError names each bad field (spec 4.1)."""
    report = Report(
        name=(name or "").strip(),
        description=(description or "").strip(),
        start=start,
        end=end,
        group_by=group_by or Segment.PROJECT,
        filter_by=list(filter_by or []),
        bucket=bucket or "",
        time_zone=(time_zone or "").strip() or DEFAULT_TIME_ZONE,
        costs=bool(costs),
        **fields,
    )
    report.full_clean(
        exclude={f.name for f in Report._meta.fields} - _GIVEN,
        validate_unique=False,  # a name the tenant uses is DuplicateReportName, not invalid
        validate_constraints=False,
    )
    return report


def delete_reports(subject: Subject, reports: Iterable[Report]) -> int:
    """Delete reports the subject may delete, and their files once the deletion commits.
    Raises PermissionDenied, deleting nothing, if any of them is not the subject's to delete."""
    reports = list(reports)
    refused = refused_deletions(subject, reports)
    if refused:
        raise PermissionDenied(refusal_message(refused))
    return Report.objects.filter(pk__in=[report.pk for report in reports]).delete_with_files()


def refused_deletions(subject: Subject, reports: Iterable[Report]) -> list[Report]:
    """Those of the reports that the subject may not delete (spec 2.3), in one query."""
    reports = list(reports)
    allowed = set(
        Report.objects.permitted(subject, "delete")
        .filter(pk__in=[report.pk for report in reports])
        .values_list("pk", flat=True)
    )
    return [report for report in reports if report.pk not in allowed]


def refusal_message(refused: Iterable[Report]) -> str:
    return f"You may not delete: {', '.join(report.name for report in refused)}."


def enqueue_build(report_id) -> None:
    from django_q.tasks import async_task

    async_task("reports.tasks.build_report", str(report_id), task_name=f"report {report_id}")


def requeue(reports: Iterable[Report]) -> int:
    """Put reports back in the queue (an operator's action)."""
    ids = [report.pk for report in reports]
    count = Report.objects.filter(pk__in=ids).requeue()
    for report_id in ids:
        transaction.on_commit(lambda report_id=report_id: enqueue_build(report_id))
    return count


def _duplicate(name: str) -> DuplicateReportName:
    return DuplicateReportName({"name": f"A report named {name!r} already exists."})


def _creator_label(subject: Subject) -> str:
    return str(subject) if isinstance(subject, ServiceAccount) else subject.email


def _creator_fields(subject: Subject) -> dict:
    if isinstance(subject, ServiceAccount):
        return {"created_by_service_account": subject}
    return {"created_by_user": subject}


# Report schedules


class DuplicateScheduleName(ValidationError):
    """Another schedule of the tenant has this name (the API answers 409)."""


def new_schedule(subject: Subject) -> ReportSchedule:
    """An unsaved schedule of the subject's tenant, owned by it: monthly from the 1st until
    said otherwise. PermissionDenied for a subject that may read no project, as it could make
    no report."""
    if not Project.objects.permitted(subject, "read").exists():
        raise PermissionDenied("You need read access to at least one project to schedule reports.")
    schedule = ReportSchedule(
        tenant_id=permissions.subject_tenant_id(subject),
        frequency=Frequency.MONTHLY,
        day_of_month=1,
    )
    schedule.set_owner(subject)
    return schedule


def save_schedule(schedule: ReportSchedule) -> None:
    """Check a new or changed schedule by its own rules (ValidationError by field) and save
    it. DuplicateScheduleName for a name its tenant uses, also when a simultaneous request
    took it first. A changed recurrence makes the periods due from now on: those of the old
    one are not caught up in the new one's terms."""
    schedule.full_clean(validate_unique=False, validate_constraints=False)
    taken = ReportSchedule.objects.named(schedule.tenant_id, schedule.name).exclude(pk=schedule.pk)
    if taken.exists():
        raise _duplicate_schedule(schedule.name)
    if _recurrence_changed(schedule):
        schedule.active_since = timezone.now()
    try:
        with transaction.atomic():
            schedule.save()
    except IntegrityError:
        raise _duplicate_schedule(schedule.name) from None


def schedule_for(subject: Subject, schedule_id, action: str) -> ReportSchedule:
    """The schedule, for `action` ("read" or "change"). ReportSchedule.DoesNotExist when the
    subject may not see it (another tenant's is simply not found); PermissionDenied when it may
    see it but not change it."""
    schedule = ReportSchedule.objects.permitted(subject, "read").get(pk=schedule_id)
    if action != "read" and not may_change_schedule(subject, schedule):
        raise PermissionDenied(f"Only its owner, {schedule.owner_name}, may change this schedule.")
    return schedule


def may_change_schedule(subject: Subject, schedule: ReportSchedule) -> bool:
    """Whether the subject may change the schedule, its targets, and see their secrets."""
    return ReportSchedule.objects.permitted(subject, "change").filter(pk=schedule.pk).exists()


def pause_schedule(subject: Subject, schedule: ReportSchedule) -> None:
    ReportSchedule.objects.filter(pk=schedule.pk).pause(f"Paused by {_creator_label(subject)}.")


def resume_schedule(schedule: ReportSchedule) -> None:
    """Run again from now on: the periods that fell due while paused stay unmade."""
    ReportSchedule.objects.filter(pk=schedule.pk).resume()


def _recurrence_changed(schedule: ReportSchedule) -> bool:
    saved = ReportSchedule.objects.filter(pk=schedule.pk).first()
    return saved is not None and saved.recurrence != schedule.recurrence


def _duplicate_schedule(name: str) -> DuplicateScheduleName:
    return DuplicateScheduleName({"name": f"A schedule named {name!r} already exists."})
