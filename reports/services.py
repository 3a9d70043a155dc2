"""Creating and deleting reports: the one path that the pages, the API, the admin and the
commands share, so that the same rules hold everywhere."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from consumption.aggregation import parse_filters
from consumption.measures import Segment
from reports_site.tenancy import permissions
from reports_site.tenancy.models import ServiceAccount

from .models import NAME_MAX_LENGTH, Report


class DuplicateReportName(ValidationError):
    """Another report of the tenant has this name (the API answers 409)."""


def create_report(
    subject,
    *,
    name: str,
    start: datetime,
    end: datetime,
    description: str = "",
    group_by: str | None = None,
    filter_by: Iterable[str] = (),
) -> Report:
    """Validate, save as Pending (QUEUED_MESSAGE) and queue the build once the transaction
    commits. Raises PermissionDenied for a subject that may read no project, ValidationError
    (by field) for bad input, DuplicateReportName for a name the tenant already uses."""
    project_ids = sorted(permissions.readable_projects(subject).values_list("pk", flat=True))
    if not project_ids:
        raise PermissionDenied("You need read access to at least one project to create a report.")
    tenant_id = permissions.subject_tenant_id(subject)
    fields = clean_report_fields(
        name=name,
        description=description,
        start=start,
        end=end,
        group_by=group_by,
        filter_by=filter_by,
    )
    if Report.objects.filter(tenant_id=tenant_id, name__iexact=fields["name"]).exists():
        raise _duplicate(fields["name"])
    report = Report(
        tenant_id=tenant_id,
        created_by=_creator_label(subject),
        project_ids=project_ids,
        **_creator_fields(subject),
        **fields,
    )
    try:
        with transaction.atomic():
            report.save(force_insert=True)
            transaction.on_commit(lambda: enqueue_build(report.pk))
    except IntegrityError:
        # A simultaneous request took the name between the check and the insert.
        raise _duplicate(fields["name"]) from None
    return report


def clean_report_fields(
    *,
    name: str,
    description: str,
    start: datetime,
    end: datetime,
    group_by: str | None,
    filter_by: Iterable[str],
    now: datetime | None = None,
) -> dict:
    """The report's fields, cleaned, or a ValidationError naming each bad field (spec 4.1)."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "Enter a name."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"Use at most {NAME_MAX_LENGTH} characters (this name has {len(name)})."
    elif any(unicodedata.category(char) == "Cc" for char in name):
        errors["name"] = "Remove the control characters (such as tabs or line breaks)."
    description = (description or "").strip()
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in description):
        errors["description"] = "Remove the control characters."

    for field, moment in (("start", start), ("end", end)):
        if not isinstance(moment, datetime):
            errors[field] = "Enter a date and time."
        elif timezone.is_naive(moment):
            errors[field] = "Give the time zone (for example Z for UTC)."
        elif moment.microsecond:
            errors[field] = "Use whole seconds."
    if "start" not in errors and "end" not in errors:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        now = now or timezone.now()
        end_of_today = now.astimezone(UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) + timedelta(days=1)
        longest = settings.REPORT_MAX_PERIOD_DAYS
        if start >= end:
            errors["end"] = "The end must be after the start."
        elif end > end_of_today:
            errors["end"] = "The end cannot be later than the end of today (UTC)."
        elif end - start > timedelta(days=longest):
            errors["end"] = f"The collection period can be at most {longest} days long."

    group_by = group_by or Segment.PROJECT
    if group_by not in Segment.values:
        errors["group_by"] = f"Choose one of {', '.join(Segment.values)}."
    filter_by = list(filter_by or [])
    try:
        parse_filters(filter_by)
    except ValueError as error:
        errors["filter_by"] = str(error)
    if errors:
        raise ValidationError(errors)
    return {
        "name": name,
        "description": description,
        "start": start,
        "end": end,
        "group_by": group_by,
        "filter_by": filter_by,
    }


def delete_reports(subject, reports: Iterable[Report]) -> int:
    """Delete reports the subject may delete, and their files once the deletion commits.
    Raises PermissionDenied, deleting nothing, if any of them is not the subject's to delete."""
    reports = list(reports)
    refused = refused_deletions(subject, reports)
    if refused:
        raise PermissionDenied(refusal_message(refused))
    return Report.objects.filter(pk__in=[report.pk for report in reports]).delete_with_files()


def refused_deletions(subject, reports: Iterable[Report]) -> list[Report]:
    """Those of the reports that the subject may not delete (spec 2.3), in one query."""
    reports = list(reports)
    allowed = set(
        Report.objects.deletable_by(subject)
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


def _creator_label(subject) -> str:
    return str(subject) if isinstance(subject, ServiceAccount) else subject.email


def _creator_fields(subject) -> dict:
    if isinstance(subject, ServiceAccount):
        return {"created_by_service_account": subject}
    return {"created_by_user": subject}
