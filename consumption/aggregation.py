"""Consumption for a period: the one function that turns usage into a report's rows (spec 3.3).

Whole UTC days inside the period are read from the daily rollups; only the partial days at the
period's edges are read from the raw samples, each sample prorated by its overlap. All sums are
integers, so the rollup path and the raw path give identical numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import BigIntegerField, F, QuerySet, Sum, Value
from django.db.models.functions import Cast, Greatest, Least

from reports_site.lookups import AnyOf, plain_rows
from reports_site.tenancy.models import Project, Tenant

from .measures import MEASURES, SUMS, Segment, measure_values
from .models import DAY_SECONDS, MAX_DURATION_SECONDS, UsageRollup, UsageSample

FILTER_FIELDS = ("projectName", "departmentName", "clusterId")

Filters = dict[str, set[str]]


@dataclass(frozen=True)
class ConsumptionRow:
    """One segment's consumption: its names, then the six measures, in the order of MEASURES."""

    segment: tuple[str, ...]
    gpu_allocation_hours: Decimal
    gpu_idle_hours: Decimal
    cpu_allocation_hours: Decimal
    cpu_usage_hours: Decimal
    memory_allocation_byte_hours: int
    memory_usage_byte_hours: int

    @property
    def measures(self) -> tuple[Decimal | int, ...]:
        return tuple(getattr(self, measure.name) for measure in MEASURES)


def parse_filters(filter_by: Iterable[str]) -> Filters:
    """Turn `["projectName==a", "clusterId==<uuid>"]` into `{"projectName": {"a"}, ...}`.
    Several values of one field are alternatives; different fields must all hold."""
    filters: Filters = {}
    for condition in filter_by:
        field, sep, value = condition.partition("==")
        if not sep or field not in FILTER_FIELDS:
            forms = ", ".join(f"{name}==VALUE" for name in FILTER_FIELDS)
            raise ValueError(f"Invalid filter {condition!r}: use {forms}.")
        if not value:
            raise ValueError(f"Invalid filter {condition!r}: the value is empty.")
        if field == "clusterId":
            try:
                value = str(uuid.UUID(value))
            except ValueError:
                raise ValueError(f"Invalid filter {condition!r}: not a cluster UUID.") from None
        filters.setdefault(field, set()).add(value)
    return filters


def consumption_rows(
    *,
    tenant: Tenant,
    start: datetime,
    end: datetime,
    group_by: str = Segment.PROJECT,
    filters: Filters | None = None,
    projects: QuerySet[Project] | Iterable[int],
    use_rollups: bool = True,
) -> list[ConsumptionRow]:
    """The consumption of `tenant` during [start, end), one row per segment that has at least one
    sample overlapping the period, sorted by the segment's names. Only `projects` (the projects
    the requester may read, as a queryset or ids) count, narrowed by `filters`."""
    if group_by not in Segment.values:
        raise ValueError(f"Unknown segment {group_by!r}; use one of {', '.join(Segment.values)}.")
    period_start, period_end = _epoch(start, "start"), _epoch(end, "end")
    if period_start >= period_end:
        raise ValueError("The period's start must be before its end.")

    allowed = _allowed_projects(tenant, projects, filters or {})
    key = Segment(group_by).grouping.key
    totals: dict[int, list[int]] = {}
    if use_rollups:
        first_day = -(-period_start // DAY_SECONDS)  # the first midnight inside the period
        last_day = period_end // DAY_SECONDS  # the last midnight inside the period
        if first_day < last_day:
            _add(totals, plain_rows(_rollup_sums(allowed, key, first_day, last_day)))
            windows = [
                (period_start, first_day * DAY_SECONDS),
                (last_day * DAY_SECONDS, period_end),
            ]
        else:  # no whole day inside the period
            windows = [(period_start, period_end)]
    else:
        windows = [(period_start, period_end)]
    for window_start, window_end in windows:
        if window_start < window_end:
            _add(totals, plain_rows(_sample_sums(allowed, key, window_start, window_end)))
    return _rows(group_by, totals)


def daily_gpu_hours(
    *,
    tenant: Tenant,
    start: datetime,
    end: datetime,
    group_by: str,
    projects: QuerySet[Project] | Iterable[int],
    filters: Filters | None = None,
    segments: Iterable[tuple[str, ...]],
) -> dict[tuple[str, ...], dict[date, Decimal]]:
    """GPU allocation hours per day of these segments (given and keyed by their names), over
    the whole UTC days of [start, end), from the daily rollups; a part of a day at either end
    is left out."""
    first_day = -(-_epoch(start, "start") // DAY_SECONDS)
    last_day = _epoch(end, "end") // DAY_SECONDS
    grouping = Segment(group_by).grouping
    sums = list(
        UsageRollup.objects.filter(
            project_id__in=_allowed_projects(tenant, projects, filters or {}),
            day__gte=first_day,
            day__lt=last_day,
        )
        .filter(**{f"{grouping.key}__in": grouping.ids_of(tenant, segments)})
        .values(grouping.key, "day")
        .annotate(gpu=Sum("gpu_allocated"))
        .order_by()
    )
    names = grouping.names_of({row[grouping.key] for row in sums})
    hours = next(m for m in MEASURES if m.name == "gpu_allocation_hours")
    daily: dict[tuple[str, ...], dict[date, Decimal]] = {}
    for row in sums:
        day = date.fromordinal(_EPOCH_DAY + row["day"])
        daily.setdefault(names[row[grouping.key]], {})[day] = hours.value([row["gpu"]])
    return daily


_EPOCH_DAY = date(1970, 1, 1).toordinal()


def raw_sample_sums(*, tenant: Tenant, start: datetime, end: datetime, group_by: str) -> list:
    """The benchmark's baseline: one GROUP BY over the raw samples of the whole tenant."""
    allowed = Project.objects.for_tenant(tenant).values("pk")
    return list(
        _sample_sums(
            allowed, Segment(group_by).grouping.key, _epoch(start, "start"), _epoch(end, "end")
        )
    )


def _epoch(moment: datetime, name: str) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"The period's {name} has no time zone.")
    if moment.microsecond:
        raise ValueError(f"The period's {name} must be a whole second.")
    return int(moment.astimezone(UTC).timestamp())


def _allowed_projects(tenant: Tenant, projects, filters: Filters) -> QuerySet:
    allowed = Project.objects.for_tenant(tenant)
    if isinstance(projects, QuerySet):
        allowed = allowed.filter(pk__in=projects.values("pk"))
    else:  # a report's projects: often thousands of ids, sent as one parameter
        allowed = allowed.filter(AnyOf(F("pk"), projects))
    if "projectName" in filters:
        allowed = allowed.filter(name__in=filters["projectName"])
    if "departmentName" in filters:
        allowed = allowed.filter(department__name__in=filters["departmentName"])
    if "clusterId" in filters:
        allowed = allowed.filter(cluster__uuid__in=filters["clusterId"])
    return allowed.values("pk")


def _rollup_sums(allowed: QuerySet, key: str, first_day: int, last_day: int) -> QuerySet:
    return (
        UsageRollup.objects.filter(project_id__in=allowed, day__gte=first_day, day__lt=last_day)
        .values(key)
        .annotate(**{f"sum_{name}": _whole(Sum(name)) for name in SUMS})
        .values_list(key, *(f"sum_{name}" for name in SUMS))
        .order_by()
    )


def _sample_sums(allowed: QuerySet, key: str, window_start: int, window_end: int) -> QuerySet:
    """Sums over the raw samples, each prorated by its overlap with [window_start, window_end)."""
    end = F("start_epoch") + F("duration_seconds")
    overlap = Least(end, Value(window_end)) - Greatest(F("start_epoch"), Value(window_start))
    amounts = dict(zip(SUMS, (e for m in MEASURES for e in m.expressions()), strict=True))
    return (
        UsageSample.objects.filter(
            project_id__in=allowed,
            # A sample lasts at most a day, so only these starts can reach into the window.
            start_epoch__gt=window_start - MAX_DURATION_SECONDS,
            start_epoch__lt=window_end,
        )
        .alias(sample_end=end)
        .filter(sample_end__gt=window_start)
        .values(key)
        .annotate(
            **{
                f"sum_{name}": _whole(Sum(amount * overlap, output_field=BigIntegerField()))
                for name, amount in amounts.items()
            }
        )
        .values_list(key, *(f"sum_{name}" for name in SUMS))
        .order_by()
    )


def _whole(total: Sum) -> Cast:
    """A sum as a 64-bit integer: PostgreSQL sums bigints as numeric, which psycopg reads as
    Decimal, a tenth of a report's time over 10,000 projects. A sum past 64 bits fails the
    build (as SQLite's SUM does) rather than giving a wrong number."""
    return Cast(total, BigIntegerField())


def _add(totals: dict[int, list[int]], rows: Iterable[tuple]) -> None:
    for segment_id, *sums in rows:
        current = totals.get(segment_id)
        totals[segment_id] = (
            sums if current is None else [a + b for a, b in zip(current, sums, strict=True)]
        )


def _rows(group_by: str, totals: dict[int, list[int]]) -> list[ConsumptionRow]:
    names = Segment(group_by).grouping.names_of(totals.keys())
    rows = [_row(names[segment_id], sums) for segment_id, sums in totals.items()]
    return sorted(rows, key=lambda row: row.segment)


def _row(segment: tuple[str, ...], sums: list[int]) -> ConsumptionRow:
    return ConsumptionRow(segment, *measure_values(sums))
