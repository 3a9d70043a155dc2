"""The new-report form (spec 4.4): whole UTC days, the end date included; the report schedule
form, which has the same settings of a report; and the form of a schedule's delivery target."""

import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError

from consumption.aggregation import parse_filters
from consumption.buckets import DEFAULT_TIME_ZONE, Bucket
from consumption.measures import GROUP_BY_CHOICES, Segment
from reports_site.tenancy.models import Project

from .models import NAME_MAX_LENGTH, DeliveryTarget, ReportSchedule
from .services import SETTINGS

# The IANA zones, UTC first.
TIME_ZONES = [DEFAULT_TIME_ZONE, *sorted(zoneinfo.available_timezones() - {DEFAULT_TIME_ZONE})]

# A day short of either end of the calendar, so that a time zone's offset and the included
# last day still fit in a datetime.
EARLIEST_DAY, LATEST_DAY = date(1, 1, 2), date(9999, 12, 30)


def validate_day(value: date | datetime) -> None:
    """Refuse a date (or a moment) too near the end of the calendar to compute with."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationError(f"Enter a date between {EARLIEST_DAY} and {LATEST_DAY}.")


def sets(report_field: str, field: forms.Field) -> forms.Field:
    """A form field noted as the one that sets the report's `report_field`, as a serializer's
    `source` does: the report's errors of that field show beside it."""
    field.report_field = report_field
    return field


def _today() -> date:
    return datetime.now(UTC).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _quarter_start(day: date) -> date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


@dataclass(frozen=True)
class Preset:
    """A quick choice of period: its first and last day (included), in UTC, as of today."""

    label: str
    start: Callable[[], date]
    end: Callable[[], date]


PRESETS = [
    Preset("Last 7 days", lambda: _today() - timedelta(days=6), _today),
    Preset("Last 30 days", lambda: _today() - timedelta(days=29), _today),
    Preset("This month", lambda: _month_start(_today()), _today),
    Preset(
        "Last month",
        lambda: _month_start(_month_start(_today()) - timedelta(days=1)),
        lambda: _month_start(_today()) - timedelta(days=1),
    ),
    Preset(
        "Last quarter",
        lambda: _quarter_start(_quarter_start(_today()) - timedelta(days=1)),
        lambda: _quarter_start(_today()) - timedelta(days=1),
    ),
]


class ReportSettingsForm(forms.Form):
    """The settings a report is made of besides its name and period (services.SETTINGS): the
    fields of the new-report form that the schedule form has too."""

    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    group_by = forms.ChoiceField(
        label="Segment by", choices=GROUP_BY_CHOICES, initial=Segment.PROJECT
    )
    clusters = sets(
        "filter_by",
        forms.MultipleChoiceField(
            label="Clusters", required=False, widget=forms.CheckboxSelectMultiple
        ),
    )
    departments = forms.MultipleChoiceField(
        label="Departments", required=False, widget=forms.CheckboxSelectMultiple
    )
    projects = forms.MultipleChoiceField(
        label="Projects", required=False, widget=forms.CheckboxSelectMultiple
    )
    bucket = forms.ChoiceField(
        label="Rows per",
        choices=[("", "Whole period"), *Bucket.choices],
        required=False,
        help_text="One row per segment, or per segment and day, week (Monday first) or month",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=[(name, name) for name in TIME_ZONES],
        initial=DEFAULT_TIME_ZONE,
        required=False,  # UTC
        help_text="Whose days, weeks and months the rows are",
    )
    costs = forms.BooleanField(
        label="Add costs",
        required=False,
        help_text="GPU, idle GPU, CPU and memory cost columns, at your organisation's prices",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only what the user may read is offered: its projects, their departments and clusters.
        readable = Project.objects.permitted(user, "read")
        names = list(readable.values_list("name", "department__name"))
        clusters = readable.order_by().values_list("cluster__uuid", "cluster__name").distinct()
        self.fields["clusters"].choices = sorted(
            ((str(uuid), name) for uuid, name in clusters), key=lambda choice: choice[1]
        )
        self.fields["departments"].choices = [(n, n) for n in sorted({d for _, d in names})]
        self.fields["projects"].choices = [(n, n) for n in sorted({p for p, _ in names})]

    def clean_time_zone(self) -> str:
        return self.cleaned_data["time_zone"] or DEFAULT_TIME_ZONE

    @staticmethod
    def settings_initial(source) -> dict:
        """The settings' fields filled in from a report, or a schedule that makes reports."""
        filters = parse_filters(source.filter_by)
        return {
            "description": source.description,
            "group_by": source.group_by,
            "bucket": source.bucket,
            "time_zone": source.time_zone,
            "costs": source.costs,
            "clusters": sorted(filters.get("clusterId", ())),
            "departments": sorted(filters.get("departmentName", ())),
            "projects": sorted(filters.get("projectName", ())),
        }

    def settings_fields(self) -> dict:
        """The cleaned settings, as services.SETTINGS names them."""
        data = {**self.cleaned_data, "filter_by": self.filter_by()}
        return {field: data[field] for field in SETTINGS}

    def filter_by(self) -> list[str]:
        """The filters ticked, as a report's conditions."""
        data = self.cleaned_data
        return (
            [f"clusterId=={uuid}" for uuid in data["clusters"]]
            + [f"departmentName=={name}" for name in data["departments"]]
            + [f"projectName=={name}" for name in data["projects"]]
        )

    def add_service_errors(self, message_dict: dict) -> None:
        """The errors of the model's fields, each beside the form field that sets it."""
        beside = {getattr(f, "report_field", name): name for name, f in self.fields.items()}
        for field, messages in message_dict.items():
            for message in messages:
                self.add_error(beside.get(field), message)


class ReportForm(ReportSettingsForm):
    name = forms.CharField(max_length=NAME_MAX_LENGTH, strip=True)
    start_date = sets(
        "start",
        forms.DateField(
            label="Start date",
            widget=forms.DateInput(attrs={"type": "date"}),
            help_text="UTC",
            validators=[validate_day],
        ),
    )
    end_date = sets(
        "end",
        forms.DateField(
            label="End date",
            widget=forms.DateInput(attrs={"type": "date"}),
            help_text="UTC, included",
            validators=[validate_day],
        ),
    )

    field_order = ["name", "description", "start_date", "end_date"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        if not self.is_bound and not self.initial:
            self.initial = {"start_date": PRESETS[0].start(), "end_date": PRESETS[0].end()}

    @staticmethod
    def presets() -> list[dict]:
        """The quick choices of period, each with its first and last day (UTC, as of today)."""
        return [
            {"label": preset.label, "start": preset.start(), "end": preset.end()}
            for preset in PRESETS
        ]

    @staticmethod
    def initial_from(report, *, name: str) -> dict:
        """The form's fields for a copy of `report`: whole UTC days that cover its period (the
        last one included), and its settings."""
        return {
            "name": name,
            "start_date": report.start.astimezone(UTC).date(),
            "end_date": (report.end.astimezone(UTC) - timedelta(microseconds=1)).date(),
            **ReportSettingsForm.settings_initial(report),
        }

    def report_fields(self) -> dict:
        """The service's arguments for the cleaned form."""
        data = self.cleaned_data
        start = datetime.combine(data["start_date"], datetime.min.time(), tzinfo=UTC)
        end = datetime.combine(data["end_date"], datetime.min.time(), tzinfo=UTC)
        return {
            "name": data["name"],
            "start": start,
            "end": end + timedelta(days=1),  # the end date is included
            **self.settings_fields(),
        }


def _schedule_field(name: str, **kwargs) -> forms.Field:
    """The form field of a ReportSchedule field: the model's label, help text and choices."""
    return ReportSchedule._meta.get_field(name).formfield(**kwargs)


# The schedule's fields that the form sets as they are, besides the report's settings.
SCHEDULE_FIELDS = (
    "name",
    "frequency",
    "weekday",
    "day_of_month",
    "schedule_time_zone",
    "run_at",
    "name_template",
    "keep_last",
    "catch_up_limit",
)
# Those that make its recurrence: the preview of the next runs needs them right.
RECURRENCE_FIELDS = ("frequency", "weekday", "day_of_month", "schedule_time_zone", "run_at")


class ReportScheduleForm(ReportSettingsForm):
    """A report schedule: its name, the settings of the reports it makes (as the new-report
    form has them), its recurrence, and how its reports are named and kept. The model checks
    the rest (services.save_schedule), and its errors show beside these fields."""

    name = forms.CharField(max_length=NAME_MAX_LENGTH, strip=True)
    frequency = _schedule_field("frequency")
    weekday = _schedule_field("weekday", help_text="Weekly: the day each week starts on.")
    day_of_month = _schedule_field("day_of_month", min_value=1, max_value=31)
    schedule_time_zone = forms.ChoiceField(
        label="Schedule's time zone",
        choices=[(name, name) for name in TIME_ZONES],
        help_text=ReportSchedule._meta.get_field("schedule_time_zone").help_text,
    )
    run_at = _schedule_field(
        "run_at", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    name_template = _schedule_field("name_template")
    keep_last = _schedule_field("keep_last", min_value=1, max_value=1000)
    catch_up_limit = _schedule_field("catch_up_limit", min_value=1, max_value=100)

    # The form's parts, as its page shows them.
    GROUPS = (
        ("Schedule", ("name", "description")),
        ("When", RECURRENCE_FIELDS),
        (
            "Its reports",
            ("group_by", "clusters", "departments", "projects", "bucket", "time_zone", "costs"),
        ),
        ("Names and keeping", ("name_template", "keep_last", "catch_up_limit")),
    )

    def groups(self) -> list[tuple[str, list]]:
        """Each part of the form: its legend and its bound fields."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS]

    @classmethod
    def initial_from(cls, schedule: ReportSchedule) -> dict:
        return {
            **{field: getattr(schedule, field) for field in SCHEDULE_FIELDS},
            **cls.settings_initial(schedule),
        }

    def apply_to(self, schedule: ReportSchedule) -> None:
        """Set the schedule's fields from those of the form that are valid."""
        data = self.cleaned_data
        for field in (*SCHEDULE_FIELDS, *SETTINGS):
            if field in data:
                setattr(schedule, field, data[field])
        if all(field in data for field in ("clusters", "departments", "projects")):
            schedule.filter_by = self.filter_by()


class DeliveryTargetForm(forms.ModelForm):
    """A new delivery target of a schedule: its kind, then the field that kind needs. The
    model checks them (its validators and clean), and its errors show beside these fields."""

    recipients = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E-mail: the addresses, separated by commas or new lines.",
    )
    url = forms.URLField(
        label="URL",
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text=DeliveryTarget._meta.get_field("url").help_text,
    )

    class Meta:
        model = DeliveryTarget
        fields = ["kind", "recipients", "url", "prefix"]

    def _post_clean(self) -> None:
        """The model's checks, but not of a field this form already refused (its "Give the
        URL" would follow "Enter a valid URL")."""
        refused = {field: errors.copy() for field, errors in self.errors.items()}
        super()._post_clean()
        self._errors.update(refused)

    def clean_recipients(self) -> list[str]:
        return [
            address for address in re.split(r"[\s,;]+", self.cleaned_data["recipients"]) if address
        ]
