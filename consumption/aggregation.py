"""Consumption for a period: the one function that turns usage into a report's rows (spec 3.3).

Whole UTC days inside the period are read from the daily rollups; only the partial days at the
period's edges are read from the raw samples, each sample prorated by its overlap. All sums are
integers, so the rollup path and the raw path give identical numbers.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import NamedTuple

from django.db.models import BigIntegerField, F, QuerySet, Sum, Value
from django.db.models.functions import Cast, Greatest, Least

from reports_site.lookups import AnyOf, plain_rows
from reports_site.tenancy.models import Project, Tenant

from .buckets import DEFAULT_TIME_ZONE, Bucket, Span, spans
from .measures import MEASURES, POSITION, SUMS, Grouping, Segment, grouping_of, measure_values
from .models import DAY_SECONDS, MAX_DURATION_SECONDS, UsageRollup, UsageSample
from .pricing import Missing, PriceBook, PricingError, cents

FILTER_FIELDS = ("projectName", "departmentName", "clusterId")

Filters = dict[str, set[str]]


class ConsumptionRow(NamedTuple):
    """One segment's consumption: its names, and the six measures in the order of MEASURES
    (hours as Decimal, byte-hours as int). A named tuple: a report over 10,000 projects makes
    as many rows, and a tuple is made in a third of a frozen dataclass's time."""

    segment: tuple[str, ...]
    measures: tuple[Decimal | int, ...]
    period_start: date | None = None  # the first day of the row's time bucket, if it has one
    costs: tuple[Decimal, ...] | None = None  # in the order of COSTS, if the report has costs

    def measure(self, name: str) -> Decimal | int:
        """One of the measures, by its name in MEASURES."""
        return self.measures[POSITION[name]]


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
    bucket: str | None = None,
    time_zone: str = DEFAULT_TIME_ZONE,
    prices: PriceBook | None = None,
) -> list[ConsumptionRow]:
    """The consumption of `tenant` during [start, end), one row per segment (`group_by`, one of
    GROUP_BY) that has at least one sample overlapping the period, sorted by the segment's
    names; with a `bucket`, one row per bucket of `time_zone` and segment, sorted by the
    bucket's first day and then the names. Only `projects` (the projects the requester may
    read, as a queryset or ids) count, narrowed by `filters`. With `prices` (the tenant's
    over the period), each row has its costs too; a PricingError names the usage that no
    price holds for."""
    grouping = grouping_of(group_by)
    if bucket and bucket not in Bucket.values:
        raise ValueError(f"Unknown bucket {bucket!r}; use one of {', '.join(Bucket.values)}.")
    period_start, period_end = _epoch(start, "start"), _epoch(end, "end")
    if period_start >= period_end:
        raise ValueError("The period's start must be before its end.")

    use_rollups = use_rollups and not grouping.by_workload
    allowed = _allowed_projects(tenant, projects, filters or {})
    # The buckets, cut where a price changes: each piece has one price per resource and pool.
    buckets = spans(period_start, period_end, bucket, time_zone)
    parts = _cut(buckets, prices.changes) if prices else buckets
    # Each piece's whole UTC days come from the daily rollups, the rest from the samples.
    days: dict[int, int] = {}  # a whole UTC day: the piece it belongs to
    windows: list[tuple[int, int, int]] = []  # a piece, and [start, end) of samples
    for index, span in enumerate(parts):
        first_day = -(-span.start // DAY_SECONDS)  # the first midnight inside the span
        last_day = span.end // DAY_SECONDS  # the last midnight inside the span
        if use_rollups and first_day < last_day:
            days.update(dict.fromkeys(range(first_day, last_day), index))
            windows += [
                (index, span.start, first_day * DAY_SECONDS),
                (index, last_day * DAY_SECONDS, span.end),
            ]
        else:
            windows.append((index, span.start, span.end))

    # Costs are charged by node pool: their sums are kept per pool until they are charged.
    keys = grouping.keys
    if prices and "nodepool_id" not in keys:
        keys = (*keys, "nodepool_id")
    totals: dict[tuple[int, tuple], list[int]] = {}  # (piece, the values of keys): sums
    rollups = UsageRollup.objects.filter(project_id__in=allowed)
    if len(parts) == 1 and days:  # one piece: its days summed by the database
        whole_days = rollups.filter(day__gte=min(days), day__lt=max(days) + 1)
        _add(totals, 0, keys, plain_rows(_rollup_sums(whole_days, keys)))
    elif days:
        whole_days = rollups.filter(AnyOf(F("day"), list(days)))
        for day, *row in plain_rows(_rollup_sums(whole_days, ("day", *keys))):
            _add(totals, days[day], keys, [row])
    # The windows' sums, many windows a query (one round trip, not one per window).
    windows = [window for window in windows if window[1] < window[2]]
    for first in range(0, len(windows), _WINDOWS_A_QUERY):
        batch = windows[first : first + _WINDOWS_A_QUERY]
        queries = [_sample_sums(allowed, keys, *window) for window in batch]
        for index, *row in plain_rows(queries[0].union(*queries[1:], all=True)):
            _add(totals, index, keys, [row])
    return _rows(grouping, parts, keys, totals, prices)


# Sample windows summed by one query, as a UNION ALL of each window's: below SQLite's limit
# of 500 terms in a compound SELECT.
_WINDOWS_A_QUERY = 250


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
    is left out. The rollups do not know workloads: none for segments split by workload."""
    first_day = -(-_epoch(start, "start") // DAY_SECONDS)
    last_day = _epoch(end, "end") // DAY_SECONDS
    grouping = grouping_of(group_by)
    if grouping.by_workload:
        return {}
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
    names = grouping.names_of({(row[grouping.key],) for row in sums})
    hours = MEASURES[POSITION["gpu_allocation_hours"]]
    daily: dict[tuple[str, ...], dict[date, Decimal]] = {}
    for row in sums:
        day = date.fromordinal(_EPOCH_DAY + row["day"])
        daily.setdefault(names[(row[grouping.key],)], {})[day] = hours.value([row["gpu"]])
    return daily


_EPOCH_DAY = date(1970, 1, 1).toordinal()


def raw_sample_sums(*, tenant: Tenant, start: datetime, end: datetime, group_by: str) -> list:
    """The benchmark's baseline: one GROUP BY over the raw samples of the whole tenant."""
    allowed = Project.objects.for_tenant(tenant).values("pk")
    return list(
        _sample_sums(
            allowed, grouping_of(group_by).keys, None, _epoch(start, "start"), _epoch(end, "end")
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


def _rollup_sums(rollups: QuerySet, fields: tuple[str, ...]) -> QuerySet:
    """Sums over these rollups, grouped by `fields`."""
    return _summed(rollups, fields, {f"sum_{name}": Sum(name) for name in SUMS})


def _summed(rows: QuerySet, fields: tuple[str, ...], sums: dict[str, Sum]) -> QuerySet:
    """The rows grouped by `fields`, each sum as a 64-bit integer: PostgreSQL sums bigints as
    numeric, which psycopg reads as Decimal, a tenth of a report's time over 10,000 projects.
    A sum past 64 bits fails the build (as SQLite's SUM does) rather than giving a wrong
    number."""
    whole = {name: Cast(total, BigIntegerField()) for name, total in sums.items()}
    return rows.values(*fields).annotate(**whole).values_list(*fields, *whole).order_by()


def _sample_sums(
    allowed: QuerySet,
    keys: tuple[str, ...],
    piece: int | None,
    window_start: int,
    window_end: int,
) -> QuerySet:
    """Sums over the raw samples, each prorated by its overlap with [window_start, window_end),
    grouped by `keys`; with a `piece`, each row led by it."""
    end = F("start_epoch") + F("duration_seconds")
    overlap = Least(end, Value(window_end)) - Greatest(F("start_epoch"), Value(window_start))
    amounts = dict(zip(SUMS, (e for m in MEASURES for e in m.expressions()), strict=True))
    samples = (
        UsageSample.objects.filter(
            project_id__in=allowed,
            # A sample lasts at most a day, so only these starts can reach into the window.
            start_epoch__gt=window_start - MAX_DURATION_SECONDS,
            start_epoch__lt=window_end,
        )
        .alias(sample_end=end)
        .filter(sample_end__gt=window_start)
    )
    sums = {
        f"sum_{name}": Sum(amount * overlap, output_field=BigIntegerField())
        for name, amount in amounts.items()
    }
    if piece is None:
        return _summed(samples, keys, sums)
    return _summed(samples.annotate(piece=Value(piece)), ("piece", *keys), sums)


def _cut(parts: list[Span], moments: list[int]) -> list[Span]:
    """The spans, each cut at the moments inside it; the pieces keep their span's label."""
    pieces = []
    for span in parts:
        edges = [span.start, *(m for m in moments if span.start < m < span.end), span.end]
        pieces += [Span(span.label, a, b) for a, b in itertools.pairwise(edges)]
    return pieces


def _add(totals: dict, piece: int, keys: tuple[str, ...], rows: Iterable[Sequence]) -> None:
    """Add rows of (the values of `keys`..., the sums...) to the piece's totals."""
    width = len(keys)
    for row in rows:
        _accumulate(totals, (piece, tuple(row[:width])), row[width:])


def _accumulate(totals: dict, key, values: Sequence) -> None:
    current = totals.get(key)
    totals[key] = (
        values if current is None else [a + b for a, b in zip(current, values, strict=True)]
    )


def _rows(
    grouping: Grouping,
    pieces: list[Span],
    keys: tuple[str, ...],
    totals: dict,
    prices: PriceBook | None,
) -> list[ConsumptionRow]:
    """The rows: each bucket's pieces summed by the grouping's own keys (and charged, with
    prices, by node pool and piece)."""
    width = len(grouping.keys)
    sums: dict[tuple, list[int]] = {}  # (a bucket's label, the row's key): sums
    costs: dict[tuple, list[Fraction]] = {}  # the same: the exact cost columns
    missing: Missing = set()
    for (piece, key), piece_sums in totals.items():
        row = (pieces[piece].label, key[:width])
        _accumulate(sums, row, piece_sums)
        if prices:
            pool = key[keys.index("nodepool_id")]
            amounts = prices.charge(piece_sums, pool, pieces[piece].start, missing)
            _accumulate(costs, row, amounts)
    if missing:
        raise PricingError(prices.missing_message(missing))
    names = grouping.names_of({key for _, key in sums})
    rows = [
        ConsumptionRow(
            names[key],
            measure_values(row_sums),
            period_start=label,
            costs=cents(costs[label, key]) if prices else None,
        )
        for (label, key), row_sums in sums.items()
    ]
    # By names, then (the sort is stable) by bucket: Python compares a key of names alone
    # three times as fast as one led by a bucket that every row shares.
    rows.sort(key=attrgetter("segment"))
    if pieces[0].label is not None:
        rows.sort(key=attrgetter("period_start"))
    return rows
