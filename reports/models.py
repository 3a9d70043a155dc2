"""Consumption reports (spec 4.1, 4.2) and who may see or delete them (spec 2.3)."""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
import uuid
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby, islice

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    URLValidator,
    validate_email,
)
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.utils import timezone

from consumption.aggregation import parse_filters
from consumption.buckets import DEFAULT_TIME_ZONE, Bucket, spans, validate_time_zone
from consumption.measures import GROUP_BY, GROUP_BY_CHOICES, Segment
from reports_site.tenancy import permissions
from reports_site.tenancy.models import ServiceAccount, Subject, Tenant, User
from reports_site.unicode import UnicodeLower

from .recurrence import WEEKDAYS, Frequency, Period, Recurrence

NAME_MAX_LENGTH = 250
QUEUED_MESSAGE = "Report in queue"
BUILDING_MESSAGE = "Building the report"


def validate_name_characters(name: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValidationError("Remove the control characters (such as tabs or line breaks).")


def validate_description_characters(text: str) -> None:
    if any(unicodedata.category(char) == "Cc" and char not in "\n\r\t" for char in text):
        raise ValidationError("Remove the control characters.")


def validate_filters(filter_by: list[str]) -> None:
    if not isinstance(filter_by, list) or not all(isinstance(c, str) for c in filter_by):
        raise ValidationError('Give a list of conditions, such as ["projectName==a"].')
    try:
        parse_filters(filter_by)
    except ValueError as error:
        raise ValidationError(str(error)) from None


# What a report holds, as fields shared by Report and ReportSchedule (which makes such
# reports): each call makes a new field of the one definition.


def name_field() -> models.CharField:
    return models.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[validate_name_characters],
        error_messages={
            "blank": "Enter a name.",
            "max_length": "Use at most %(limit_value)d characters (this name has %(show_value)d).",
        },
    )


def name_key_field() -> models.GeneratedField:
    """The name in lower case, every letter folded alike on PostgreSQL and SQLite: names are
    unique regardless of case (spec 4.1), and sort so."""
    return models.GeneratedField(
        expression=UnicodeLower("name"),
        output_field=models.CharField(max_length=NAME_MAX_LENGTH),
        db_persist=True,
        editable=False,
    )


def description_field() -> models.TextField:
    return models.TextField(blank=True, validators=[validate_description_characters])


def group_by_field() -> models.CharField:
    return models.CharField(
        "segment by",
        max_length=20,
        choices=GROUP_BY_CHOICES,
        default=Segment.PROJECT,
        error_messages={"invalid_choice": f"Choose one of {', '.join(GROUP_BY)}."},
    )


def bucket_field() -> models.CharField:
    """Ours: rows per time bucket of a time zone (none: Run:ai's one row per segment)."""
    return models.CharField(
        "rows per", max_length=10, choices=Bucket.choices, blank=True, default=""
    )


def time_zone_field() -> models.CharField:
    return models.CharField(
        "time zone",
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="The IANA zone whose days, weeks and months the buckets are.",
    )


def costs_field() -> models.BooleanField:
    """Ours: cost columns, at the tenant's prices (consumption.models.Price)."""
    return models.BooleanField(
        "with costs", default=False, help_text="Add cost columns at the tenant's prices."
    )


def filter_by_field() -> models.JSONField:
    return models.JSONField(
        "filters",
        default=list,
        blank=True,
        validators=[validate_filters],
        help_text='e.g. ["projectName==a"]',
    )


class ReportStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    PROCESSING = "Processing", "Processing"
    READY = "Ready", "Ready"
    FAILED = "Failed", "Failed"


class ReportType(models.TextChoices):
    CONSUMPTION = "Consumption", "Consumption"


class TenantsOwnQuerySet(models.QuerySet):
    """Things of a tenant that a subject makes and owns, named uniquely in the tenant whatever
    the letter case (by `name_key`): reports, and the schedules that make them. Spec 2.3: a
    subject may act on its own, or on all of its tenant's when it holds the reports' permission
    for the action at tenant scope."""

    # The fields that hold the owner: a user, or a service account.
    owner_fields: tuple[str, str]
    # Each action on these things, and the permission on a tenant's projects that allows it.
    actions: dict[str, str]

    def permitted(self, subject: Subject | None, action: str):
        """The ones on which the subject may do `action` (one of `actions`)."""
        tenant_id = permissions.subject_tenant_id(subject)
        if tenant_id is None:
            return self.none()
        of_tenant = self.filter(tenant_id=tenant_id)
        if permissions.holds_at_tenant_scope(subject, "project", self.actions[action]):
            return of_tenant
        by_user, by_account = self.owner_fields
        owner = by_account if isinstance(subject, ServiceAccount) else by_user
        return of_tenant.filter(**{owner: subject})

    def named(self, tenant_id: int, name: str):
        """The tenant's one of this name, whatever its letter case (as the unique constraint
        compares them: by `name_key`)."""
        return self.filter(tenant_id=tenant_id, name_key=UnicodeLower(Value(name)))


class ReportQuerySet(TenantsOwnQuerySet):
    owner_fields = ("created_by_user", "created_by_service_account")
    actions = {"read": "read", "delete": "delete"}

    # State changes: each is one conditional UPDATE and returns how many reports it changed.

    def claim(self) -> int:
        """Take these reports, the Pending ones, for a build: Processing, its heartbeat now."""
        now = timezone.now()
        return self.filter(status=ReportStatus.PENDING).update(
            status=ReportStatus.PROCESSING,
            status_message=BUILDING_MESSAGE,
            status_updated_at=now,
            heartbeat_at=now,
            build_attempts=F("build_attempts") + 1,
        )

    def settle(self, status: str, message: str, **fields) -> int:
        """Give these reports a status and its message, as of now; a build's heartbeat ends."""
        return self.update(
            status=status,
            status_message=message,
            status_updated_at=timezone.now(),
            heartbeat_at=None,
            **fields,
        )

    def fail(self, message: str, **fields) -> int:
        return self.settle(ReportStatus.FAILED, message, **fields)

    def requeue(self) -> int:
        """Back to Pending; the caller queues their builds once this commits."""
        return self.settle(ReportStatus.PENDING, QUEUED_MESSAGE)

    def delete_with_files(self) -> int:
        """Delete these reports, and their files once the deletion commits.

        The rows are locked first, so that a build finishing at the same moment either stored
        its file before (and it is deleted here) or finds its report gone and removes the file
        itself (tasks.build_report); SQLite's write lock does the same there."""
        with transaction.atomic():
            doomed = list(self.select_for_update().values_list("pk", "file"))
            deleted, _ = Report.objects.filter(pk__in=[pk for pk, _ in doomed]).delete()
            files = [name for _, name in doomed if name]
            transaction.on_commit(lambda: delete_files(files))
        return deleted


def delete_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def report_file_name(report: Report, filename: str) -> str:
    # Derived from the UUID only, never from the name a user typed.
    return f"reports/{report.pk}.csv"


class ProjectIdsField(models.JSONField):
    """Project ids, in order, stored as runs: an id alone, or [first, last] for consecutive
    ones. A tenant-wide reader's thousands of projects are a few runs, which a report stores
    and reads back in a fraction of the time a list of each id takes. Reads bare ids too."""

    def get_prep_value(self, value):
        if value is None:
            return value
        runs = []
        # Consecutive ids have the same difference from their place in the list.
        for _, run in groupby(enumerate(sorted(value)), lambda pair: pair[1] - pair[0]):
            ids = [pk for _, pk in run]
            runs.append(ids[0] if len(ids) == 1 else [ids[0], ids[-1]])
        return runs

    def from_db_value(self, value, expression, connection):
        runs = super().from_db_value(value, expression, connection)
        if runs is None:
            return runs
        ids = []
        for run in runs:
            if isinstance(run, list):
                ids.extend(range(run[0], run[1] + 1))
            else:
                ids.append(run)
        return ids


class Report(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="reports")
    name = name_field()
    name_key = name_key_field()
    description = description_field()
    type = models.CharField(
        max_length=20, choices=ReportType.choices, default=ReportType.CONSUMPTION
    )
    start = models.DateTimeField(help_text="Start of the collection period (UTC, included).")
    end = models.DateTimeField(help_text="End of the collection period (UTC, excluded).")
    group_by = group_by_field()
    bucket = bucket_field()
    time_zone = time_zone_field()
    costs = costs_field()
    filter_by = filter_by_field()
    # The creator: a user or a service account. The e-mail (or sa:NAME) is kept as well, so
    # that `createdBy` survives the creator's deletion.
    created_by = models.CharField("created by", max_length=254)
    created_by_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What the report may contain: the projects its creator could read at creation (spec 2.3).
    project_ids = ProjectIdsField(default=list, editable=False)
    created_at = models.DateTimeField("creation time", default=timezone.now, editable=False)
    status = models.CharField(
        max_length=20, choices=ReportStatus.choices, default=ReportStatus.PENDING
    )
    status_updated_at = models.DateTimeField("status updated", default=timezone.now)
    status_message = models.TextField(blank=True, default=QUEUED_MESSAGE)
    # The build: its heartbeat while Processing, and what it produced.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    build_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    # How many times its build was put in the queue: a build lost before any worker took it
    # is queued again, a limited number of times.
    times_queued = models.PositiveSmallIntegerField(default=1, editable=False)
    row_count = models.PositiveIntegerField("rows", null=True, blank=True)
    file_size = models.PositiveBigIntegerField("size", null=True, blank=True)
    file = models.FileField(upload_to=report_file_name, blank=True, max_length=200)
    # What its page shows, kept by the build: the CSV's first rows and its largest segments
    # (reports.csv_export.summary).
    summary = models.JSONField(default=dict, blank=True, editable=False)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # Enforced by the database, so that two simultaneous requests cannot both win.
            models.UniqueConstraint(
                fields=["tenant", "name_key"], name="report_name_unique_in_tenant_ignoring_case"
            ),
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="report_period"),
        ]
        # The Reports table's orders end with the primary key (see tables.py): so do these.
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="report_by_tenant_and_time"),
            models.Index(fields=["tenant", "name_key", "id"], name="report_by_tenant_and_name"),
            models.Index(
                fields=["tenant", "status", "-created_at", "-id"],
                name="report_by_tenant_and_status",
            ),
            models.Index(fields=["status", "heartbeat_at"], name="report_by_status"),
            # The admin's list of every tenant's reports, newest first (see admin.py).
            models.Index(fields=["-created_at", "-id"], name="report_by_time"),
            # ... and sorted by name (then newest first, as the admin breaks ties).
            models.Index(fields=["name_key", "-created_at", "-id"], name="report_by_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The collection period's rules (spec 4.1), its moments turned into UTC."""
        errors = {}
        for field in ("start", "end"):
            moment = getattr(self, field)
            if not isinstance(moment, datetime):
                continue  # the field's own check says what is wrong
            if timezone.is_naive(moment):
                errors[field] = "Give the time zone (for example Z for UTC)."
            elif moment.microsecond:
                errors[field] = "Use whole seconds."
            else:
                setattr(self, field, moment.astimezone(UTC))
        if errors:
            raise ValidationError(errors)
        if not (isinstance(self.start, datetime) and isinstance(self.end, datetime)):
            return
        end_of_today = timezone.now().astimezone(UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) + timedelta(days=1)
        longest = settings.REPORT_MAX_PERIOD_DAYS
        if self.start >= self.end:
            raise ValidationError({"end": "The end must be after the start."})
        if self.end > end_of_today:
            raise ValidationError({"end": "The end cannot be later than the end of today (UTC)."})
        if self.end - self.start > timedelta(days=longest):
            raise ValidationError(
                {"end": f"The collection period can be at most {longest} days long."}
            )

    @property
    def is_ready(self) -> bool:
        return self.status == ReportStatus.READY

    @property
    def selection(self) -> dict:
        """The usage the report covers, as the aggregation takes it: its tenant, period and
        segment, its filters, and the projects its creator could read when it was made."""
        return {
            "tenant": self.tenant,
            "start": self.start,
            "end": self.end,
            "group_by": self.group_by,
            "filters": parse_filters(self.filter_by),
            "projects": self.project_ids,
        }

    @property
    def shape(self) -> dict:
        """How the report's rows split the period: its bucket (or none) and time zone."""
        return {"bucket": self.bucket or None, "time_zone": self.time_zone}

    @property
    def period_starts(self) -> list[date]:
        """The first local day of each of the report's buckets, in order (none without
        buckets): the Period starts its file can have."""
        if not self.bucket:
            return []
        start, end = int(self.start.timestamp()), int(self.end.timestamp())
        return [span.label for span in spans(start, end, self.bucket, self.time_zone)]

    @property
    def is_settled(self) -> bool:
        """Ready or Failed: the status will not change by itself any more."""
        return self.status in (ReportStatus.READY, ReportStatus.FAILED)

    @property
    @admin.display(description="collection period", ordering="start")
    def period(self) -> str:
        """The collection period as the form takes it: whole days with the last one included,
        or exact times when the period does not fall on day boundaries."""
        if _is_midnight(self.start) and _is_midnight(self.end):
            return f"{self.start:%Y-%m-%d} – {self.end - timedelta(days=1):%Y-%m-%d}"
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"


def _is_midnight(moment) -> bool:
    return moment.astimezone(UTC).time() == time(0)


class TableColumns(models.Model):
    """The columns a user chose to see in one table; the table's defaults until they choose."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="table_columns")
    table = models.CharField(max_length=100)
    columns = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "table"], name="table_columns_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.table} for {self.user}"


# Report schedules (issue 16): a schedule makes a report of each period of its recurrence once
# the period is over (reports.scheduling), and records each period it ran as a ScheduleRun.

NAME_TEMPLATE_FIELDS = ("name", "period")
DEFAULT_NAME_TEMPLATE = "{name} {period}"


def validate_name_template(template: str) -> None:
    """Text with `{name}` (the schedule's) and `{period}` (the period's label, required so that
    each period's report has a name of its own); `{{` and `}}` for braces themselves."""
    validate_name_characters(template)
    try:
        fields = [
            (field, spec, conversion)
            for _, field, spec, conversion in string.Formatter().parse(template)
            if field is not None
        ]
    except ValueError:  # a brace without its pair
        raise ValidationError(
            "Write {{ and }} for a brace that is not {name} or {period}."
        ) from None
    for field, spec, conversion in fields:
        if field not in NAME_TEMPLATE_FIELDS:
            raise ValidationError(
                f"Use only {{name}} and {{period}} between braces, not {{{field}}}; write {{{{ "
                "and }} for a brace itself."
            )
        if spec or conversion:
            raise ValidationError(f"Write {{{field}}} as it is, without ! or :.")
    if "period" not in {field for field, _, _ in fields}:
        raise ValidationError(
            "Include {period}, so that each period's report has a name of its own."
        )


class ReportScheduleQuerySet(TenantsOwnQuerySet):
    owner_fields = ("owner_user", "owner_service_account")
    # Seeing every schedule of the tenant is seeing its reports; changing them (edit, pause,
    # resume, run now, delete) is deleting its reports.
    actions = {"read": "read", "change": "delete"}

    def with_last_run(self) -> ReportScheduleQuerySet:
        """Each schedule with the status of its latest run (`last_run_status`, None before
        its first), and when it ran (`last_run_at`)."""
        latest = ScheduleRun.objects.filter(schedule=models.OuterRef("pk")).order_by(
            "-created_at", "-pk"
        )
        return self.annotate(
            last_run_status=models.Subquery(latest.values("status")[:1]),
            last_run_at=models.Subquery(latest.values("created_at")[:1]),
        )

    def active(self) -> ReportScheduleQuerySet:
        return self.filter(paused=False)

    def pause(self, reason: str) -> int:
        """Stop making reports, saying why; the reason replaces an earlier one."""
        return self.update(paused=True, paused_reason=reason)

    def resume(self) -> int:
        """Make reports again, of the periods due from now on: those missed while paused stay
        unmade (Run now makes the latest)."""
        return self.filter(paused=True).update(
            paused=False, paused_reason="", active_since=timezone.now()
        )


class ReportSchedule(models.Model):
    """Makes, as its owner, a report with its settings over each period of its recurrence, once
    the period's report is due (reports.recurrence), and keeps the last `keep_last` of them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="report_schedules")
    name = name_field()
    name_key = name_key_field()
    # The settings of the reports it makes, as a report has them.
    description = description_field()
    group_by = group_by_field()
    bucket = bucket_field()
    time_zone = time_zone_field()
    costs = costs_field()
    filter_by = filter_by_field()
    # When: the recurrence.
    frequency = models.CharField(
        max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    weekday = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=list(enumerate(WEEKDAYS)),
        help_text="Weekly: the day each week starts on.",
    )
    day_of_month = models.PositiveSmallIntegerField(
        "day of the month",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text="Monthly: the day each month starts on (past a month's end: its last day).",
    )
    schedule_time_zone = models.CharField(
        "schedule's time zone",
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text="The IANA zone whose days the periods are made of, and of the run time.",
    )
    run_at = models.TimeField(
        "run at",
        default=time(6),
        help_text="The local time, on the day after a period, at which its report is made.",
    )
    name_template = models.CharField(
        "names of its reports",
        max_length=NAME_MAX_LENGTH,
        default=DEFAULT_NAME_TEMPLATE,
        validators=[validate_name_template],
        help_text="{name} is the schedule's name, {period} the period's, such as 2026-11.",
    )
    keep_last = models.PositiveSmallIntegerField(
        "reports kept",
        default=12,
        validators=[MinValueValidator(1)],
        help_text="The reports it made beyond this many, oldest first, are deleted.",
    )
    catch_up_limit = models.PositiveSmallIntegerField(
        "periods caught up",
        default=3,
        validators=[MinValueValidator(1)],
        help_text="After the scheduler was down: how many of the latest missed periods are made.",
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True)
    # The periods due after this moment are made: its creation, or its last resumption.
    active_since = models.DateTimeField(default=timezone.now, editable=False)
    # The owner, whose permissions its reports are made with: a user or a service account. Its
    # e-mail (or sa:NAME) is kept, to say who it was once deleted.
    owner_name = models.CharField("owner", max_length=254, blank=True, editable=False)
    owner_user = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner_service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField("creation time", default=timezone.now, editable=False)

    objects = ReportScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "name_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name_key"],
                name="report_schedule_name_unique_in_tenant",
                violation_error_message="Another schedule of the tenant has this name.",
            ),
            models.CheckConstraint(
                condition=Q(owner_user__isnull=True) | Q(owner_service_account__isnull=True),
                name="report_schedule_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def owner(self) -> Subject | None:
        """The user or service account, or None once deleted."""
        return self.owner_user or self.owner_service_account

    def set_owner(self, subject: Subject) -> None:
        self.owner_user = subject if isinstance(subject, User) else None
        self.owner_service_account = subject if isinstance(subject, ServiceAccount) else None
        self.owner_name = str(subject)

    @property
    def recurrence(self) -> Recurrence:
        return Recurrence(
            frequency=self.frequency,
            time_zone=self.schedule_time_zone,
            run_at=self.run_at,
            weekday=self.weekday,
            day_of_month=self.day_of_month,
        )

    def report_name(self, period: Period) -> str:
        return self.name_template.format(name=self.name, period=period.label)

    def history(self) -> models.QuerySet[ScheduleRun]:
        """Its runs, latest first, each with its report and that report's deliveries in the
        order of their targets."""
        deliveries = Delivery.objects.select_related("target").order_by(
            "target__created_at", "target_id"
        )
        return (
            self.runs.select_related("report")
            .prefetch_related(models.Prefetch("report__deliveries", queryset=deliveries))
            .order_by("-created_at", "-pk")
        )

    def upcoming(self, now: datetime, count: int) -> list[Period]:
        """The next `count` periods whose reports it is to make: due after now and after it
        became active, less those Run now made before they fell due. (Paused or not: the
        caller says whether it runs.)"""
        periods = self.recurrence.periods_due_after(max(now, self.active_since))
        made = set() if self._state.adding else set(self._made_period_starts())
        return list(islice((period for period in periods if period.start not in made), count))

    def _made_period_starts(self):
        return self.runs.filter(repeat=False).values_list("period_start", flat=True)

    def clean(self) -> None:
        """A recurrence's fields as its frequency needs them (the others emptied), one owner of
        the schedule's tenant, and report names that fit a report's."""
        if self.frequency != Frequency.WEEKLY:
            self.weekday = None
        if self.frequency != Frequency.MONTHLY:
            self.day_of_month = None
        errors = {}
        if self.frequency == Frequency.WEEKLY and self.weekday is None:
            errors["weekday"] = "Choose the day each week starts on."
        if self.frequency == Frequency.MONTHLY and self.day_of_month is None:
            errors["day_of_month"] = "Choose the day each month starts on, 1 to 31."
        owner = self.owner
        if owner is None or self.owner_user_id and self.owner_service_account_id:
            errors["owner_name"] = "Give the schedule one owner: a user or a service account."
        elif owner.tenant_id != self.tenant_id:
            errors["owner_name"] = f"{owner} is not of the schedule's tenant."
        if errors:
            raise ValidationError(errors)
        longest = self._longest_report_name()
        if longest > NAME_MAX_LENGTH:
            raise ValidationError(
                {
                    "name_template": f"Its reports' names would be {longest} characters long; "
                    f"make them at most {NAME_MAX_LENGTH}."
                }
            )

    def _longest_report_name(self) -> int:
        """How long its reports' names are (a recurrence's labels are all of one length); 0
        while its fields have errors of their own."""
        try:
            period = self.recurrence.period_containing(timezone.now())
            return len(self.report_name(period))
        except (ValueError, LookupError, AttributeError, TypeError):
            return 0


class RunStatus(models.TextChoices):
    MADE = "Made", "Made"
    FAILED = "Failed", "Failed"
    SKIPPED = "Skipped", "Skipped"


class ScheduleRun(models.Model):
    """A period of a schedule, run: the report made for it, or why none was. Inserting it claims
    the period, once: the unique constraint lets one worker of many insert it."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="runs")
    period_start = models.DateTimeField(help_text="UTC, included.")
    period_end = models.DateTimeField(help_text="UTC, excluded.")
    period_label = models.CharField("period", max_length=50)
    # Made by Run now rather than by the scheduler: the period's run, or, for a period already
    # run, a repeat beside the first (which the once-per-period constraint leaves out).
    on_demand = models.BooleanField("run now", default=False)
    repeat = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=RunStatus.choices)
    message = models.TextField(blank=True)
    report = models.ForeignKey(
        Report, on_delete=models.SET_NULL, null=True, blank=True, related_name="schedule_runs"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-period_start", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start"],
                condition=Q(repeat=False),
                name="schedule_run_once_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule} {self.period_label}"


# Deliveries (issue 16): when a report made by a schedule is Ready, it is sent to each of the
# schedule's targets (reports.delivery), and each sending is recorded as a Delivery.

DELIVERY_MAX_RECIPIENTS = 20
# The folder of the report files themselves (report_file_name), which `check_report_files`
# empties of files that are not a report's: no delivery may put objects there.
REPORT_FILES_FOLDER = report_file_name(Report(pk=uuid.UUID(int=0)), "").split("/")[0]


class DeliveryKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"
    STORAGE = "storage", "Object storage"


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def validate_recipients(recipients: list[str]) -> None:
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        raise ValidationError('Give a list of e-mail addresses, such as ["ops@example.com"].')
    if len(recipients) > DELIVERY_MAX_RECIPIENTS:
        raise ValidationError(f"Give at most {DELIVERY_MAX_RECIPIENTS} addresses.")
    invalid = [address for address in recipients if not _is_email(address)]
    if invalid:
        raise ValidationError(f"Not e-mail addresses: {', '.join(map(repr, invalid))}.")


def _is_email(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def validate_key_prefix(prefix: str) -> None:
    """Folders of letters, digits, `.`, `_` and `-`, separated by `/`, outside the folder of the
    report files."""
    parts = prefix.split("/")
    if not all(part and part not in (".", "..") for part in parts) or not re.fullmatch(
        r"[A-Za-z0-9._/-]+", prefix
    ):
        raise ValidationError(
            "Use folder names of letters, digits, '.', '_' and '-' separated by single '/', "
            "such as gpu-reports/monthly."
        )
    if parts[0] == REPORT_FILES_FOLDER:
        raise ValidationError(
            f"Choose another prefix: {REPORT_FILES_FOLDER}/ holds the report files themselves."
        )


class DeliveryTarget(models.Model):
    """Where a schedule's reports are sent once Ready: e-mail recipients, a webhook URL (signed
    with the target's secret, which its owner may read: the signature needs it as it is, so a
    hash of it could not sign), or a key prefix in the report files' storage."""

    schedule = models.ForeignKey(ReportSchedule, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=10, choices=DeliveryKind.choices)
    recipients = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_recipients],
        help_text='E-mail: the addresses, e.g. ["ops@example.com"].',
    )
    url = models.URLField(
        "URL",
        max_length=2000,
        blank=True,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Webhook: where the JSON is POSTed.",
    )
    secret = models.CharField(
        max_length=64,
        default=new_webhook_secret,
        editable=False,
        help_text="Webhook: the key of the X-Signature-256 HMAC of each body.",
    )
    prefix = models.CharField(
        "key prefix",
        max_length=200,
        blank=True,
        validators=[validate_key_prefix],
        help_text="Object storage: files go under <prefix>/<year>/<month>/.",
    )
    enabled = models.BooleanField(default=True, help_text="Reports made from now on are sent.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["schedule", "created_at", "pk"]

    def __str__(self) -> str:
        # Never the secret.
        return f"{self.get_kind_display()}: {self.destination}"

    @property
    def destination(self) -> str:
        """Where it sends, in words: the addresses, the URL or the prefix."""
        if self.kind == DeliveryKind.EMAIL:
            return ", ".join(self.recipients)
        if self.kind == DeliveryKind.WEBHOOK:
            return self.url
        return f"{self.prefix}/" if self.prefix else "/"

    def clean(self) -> None:
        """The field its kind needs, given; the others emptied."""
        if self.kind != DeliveryKind.EMAIL:
            self.recipients = []
        if self.kind != DeliveryKind.WEBHOOK:
            self.url = ""
        if self.kind != DeliveryKind.STORAGE:
            self.prefix = ""
        if self.kind == DeliveryKind.EMAIL and not self.recipients:
            raise ValidationError({"recipients": "Give at least one e-mail address."})
        if self.kind == DeliveryKind.WEBHOOK and not self.url:
            raise ValidationError({"url": "Give the URL the webhook is POSTed to."})
        if self.kind == DeliveryKind.STORAGE and not self.prefix:
            raise ValidationError({"prefix": "Give the key prefix the files go under."})

    def rotate_secret(self) -> None:
        """A new webhook secret, saved; the old one signs nothing more."""
        self.secret = new_webhook_secret()
        self.save(update_fields=["secret"])


class DeliveryStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    DELIVERED = "Delivered", "Delivered"
    FAILED = "Failed", "Failed"


class DeliveryQuerySet(models.QuerySet):
    def due(self, now: datetime | None = None) -> DeliveryQuerySet:
        """Pending, and no worker holds them: new, past their backoff, or their worker's claim
        expired (it died)."""
        return self.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now()
        )

    def failed(self) -> DeliveryQuerySet:
        return self.filter(status=DeliveryStatus.FAILED)

    def of_run(self, run: ScheduleRun) -> DeliveryQuerySet:
        """The deliveries of the report a schedule's run made."""
        return self.filter(report_id=run.report_id) if run.report_id else self.none()

    # State changes: each is one conditional UPDATE and returns how many deliveries it changed.

    def claim(self, until: datetime) -> int:
        """Take these deliveries, the due ones, for one more attempt, held until `until`: no
        other worker takes them before then."""
        now = timezone.now()
        return self.due(now).update(attempts=F("attempts") + 1, next_attempt_at=until)

    def deliver(self) -> int:
        return self.update(
            status=DeliveryStatus.DELIVERED, delivered_at=timezone.now(), last_error=""
        )

    def retry_at(self, moment: datetime, error: str) -> int:
        return self.update(next_attempt_at=moment, last_error=error)

    def fail(self, error: str) -> int:
        return self.update(status=DeliveryStatus.FAILED, last_error=error)


class Delivery(models.Model):
    """A report sent to one target: once (the unique constraint, and the claim by a
    conditional UPDATE), retried after failures, Delivered or in the end Failed with its
    error."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="deliveries")
    target = models.ForeignKey(DeliveryTarget, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField("last error", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField("delivered at", null=True, blank=True)
    # When a worker may try it next: at once when new, after the backoff after a failure, and
    # while a worker is sending it, when that worker's claim expires.
    next_attempt_at = models.DateTimeField(default=timezone.now)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["report", "target"], name="delivery_once_per_target")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_by_due")]

    def __str__(self) -> str:
        return f"{self.report} to {self.target}"
