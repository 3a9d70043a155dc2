"""Filtering and searching the Reports table; everything lives in the query string."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django_filters.fields import IsoDateTimeField

from .forms import validate_day
from .models import Report, ReportStatus, ReportType


@dataclass(frozen=True)
class FilterChip:
    """An active filter, shown as a chip that removes it."""

    label: str
    value: str
    remove_query: str


@dataclass(frozen=True)
class FilterChoice:
    """An entry of the Add filter menu: the fields to fill in, and the rest of the query to keep."""

    key: str
    label: str
    fields: list
    keep: list[tuple[str, str]]


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 moment within the calendar (validate_day, as typed), in UTC: its text may
    carry any offset up to ±23:59, and PostgreSQL refuses those beyond ±15:59."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        validate_day(moment)  # so that it stays within the calendar in UTC too
        return moment.astimezone(UTC)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class ReportFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    # No DISTINCT: there is no join that could repeat a report, and DISTINCT over every column
    # would make the database hash every matching row.
    status = django_filters.MultipleChoiceFilter(
        choices=ReportStatus.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    type = django_filters.MultipleChoiceFilter(
        choices=ReportType.choices, widget=forms.CheckboxSelectMultiple, distinct=False
    )
    created_by = django_filters.CharFilter(lookup_expr="icontains", label="Created by")
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    created_after = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="Created from",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    created_before = UtcDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label="Created before",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    period_from = django_filters.DateFilter(
        method="period_overlaps_from",
        label="Period overlaps from",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day],
    )
    period_to = django_filters.DateFilter(
        method="period_overlaps_to",
        label="Period overlaps to",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_day],
    )

    # The Add filter menu: one entry per column, with the filters it sets.
    MENU = (
        ("status", "Status", ("status",)),
        ("type", "Type", ("type",)),
        ("created_by", "Created by", ("created_by",)),
        ("name", "Name", ("name",)),
        ("created", "Creation time", ("created_after", "created_before")),
        ("period", "Collection period", ("period_from", "period_to")),
    )

    class Meta:
        model = Report
        fields = []

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(description__icontains=value)
            | Q(created_by__icontains=value)
        )

    def period_overlaps_from(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # The period [start, end) has a moment on or after the first day.
        return queryset.filter(end__gt=_midnight(value))

    def period_overlaps_to(self, queryset: QuerySet, name: str, value) -> QuerySet:
        # ... and a moment on or before the last day (included).
        return queryset.filter(start__lt=_midnight(value) + timedelta(days=1))

    def searches_text(self) -> bool:
        """Whether a text search or a "contains" filter applies."""
        return self.is_valid() and any(
            self.form.cleaned_data.get(name) for name in ("q", "name", "created_by")
        )

    def chips(self) -> list[FilterChip]:
        """One chip per active filter value (search has its own box)."""
        chips = []
        for name, field in self.form.fields.items():
            if name == "q":
                continue
            labels = dict(getattr(field, "choices", ()))
            for value in self.data.getlist(name):
                if not value.strip():
                    continue
                rest = self.data.copy()
                rest.setlist(name, [other for other in rest.getlist(name) if other != value])
                rest.pop("page", None)
                chips.append(FilterChip(field.label, labels.get(value, value), rest.urlencode()))
        return chips

    def menu(self) -> list[FilterChoice]:
        """The Add filter menu; each entry keeps the rest of the current query."""
        return [
            FilterChoice(
                key, label, [self.form[name] for name in names], self.query_without(*names)
            )
            for key, label, names in self.MENU
        ]

    def query_without(self, *names: str) -> list[tuple[str, str]]:
        """The current query but for these parameters, back to the first page: what a form that
        sets them must carry along as hidden fields."""
        return [
            (param, value)
            for param, values in self.data.lists()
            if param not in names and param != "page"
            for value in values
        ]


def _midnight(day) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
