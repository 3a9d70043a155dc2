"""Filtering and searching the Reports table; everything lives in the query string."""

import django_filters
from django.db.models import Q, QuerySet

from .models import Report, ReportStatus, ReportType


class ReportFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=ReportStatus.choices)
    type = django_filters.MultipleChoiceFilter(choices=ReportType.choices)
    created_by = django_filters.CharFilter(lookup_expr="icontains", label="Created by")
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created from"
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before"
    )
    period_from = django_filters.IsoDateTimeFilter(
        field_name="end", lookup_expr="gt", label="Collection period overlaps from"
    )
    period_to = django_filters.IsoDateTimeFilter(
        field_name="start", lookup_expr="lt", label="Collection period overlaps until"
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
