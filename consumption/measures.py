"""What a report groups usage by (its segments) and what it sums (its measures), each said once.

A segment names the CSV columns that identify a row, the field of a sample or a rollup that holds
its id, and how its names are read. A measure names its CSV column, the sample's amount it sums,
and how the sum is kept: amount × seconds in one integer, or, for memory, split into whole MiB and
the rest so that a month of a large cluster's byte-seconds never overflows 64 bits. The
aggregation's ORM sums, the rollups' SQL and the CSV header are all made from these tables.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from itertools import accumulate

from django.db import models
from django.db.models import F, Q, Value

from reports_site.lookups import AnyOf, plain_rows
from reports_site.tenancy.models import Cluster, Department, NodePool, Project

from .models import HOUR_SECONDS, MIB, MICRO


class Segment(models.TextChoices):
    """What a report's rows are grouped by: Run:ai's `groupBy` values."""

    PROJECT = "Project"
    DEPARTMENT = "Department"
    CLUSTER = "Cluster"
    NODEPOOL = "Nodepool"


# Ours beyond Run:ai's: rows per workload of each project, to find the jobs behind the hours.
WORKLOAD = "Workload"
GROUP_BY = (*Segment.values, WORKLOAD)
GROUP_BY_CHOICES = [*Segment.choices, (WORKLOAD, WORKLOAD)]


@dataclass(frozen=True)
class Grouping:
    """How one segment groups: the CSV columns naming a row, the field of a sample or a rollup
    that holds the segment's id, and its model's fields that give those names, in order. A
    grouping `by_workload` also splits each segment by the samples' workload, the last name;
    the daily rollups merge workloads, so it is read from the samples alone."""

    columns: tuple[str, ...]
    key: str
    model: type[models.Model]
    names: tuple[str, ...]
    by_workload: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """The fields of a sample that tell its row."""
        return (self.key, "workload") if self.by_workload else (self.key,)

    def names_of(self, keys: Iterable[tuple]) -> dict[tuple, tuple[str, ...]]:
        """The names of the rows with these keys (values of `keys`, in order), by key."""
        keys = set(keys)
        ids = {key[0] for key in keys}
        # Unordered: the model's ordering would have the database sort thousands of names.
        units = self.model.objects.filter(AnyOf(F("pk"), ids)).order_by()
        units = units.values_list("pk", *self.names)
        names = {row[0]: row[1:] for row in plain_rows(units)}
        return {key: names[key[0]] + key[1:] for key in keys}

    def ids_of(self, tenant, segments: Iterable[tuple[str, ...]]) -> list[int]:
        """The ids of these segments of the tenant, given by their names (as `names_of` gives
        them)."""
        named = Q(pk__in=[])
        for names in segments:
            named |= Q(**dict(zip(self.names, names, strict=True)))
        return list(
            self.model.objects.for_tenant(tenant).filter(named).values_list("pk", flat=True)
        )


def grouping_of(group_by: str) -> Grouping:
    """The grouping of a `groupBy` value; a ValueError names the values there are."""
    try:
        return _GROUPINGS[group_by]
    except KeyError:
        raise ValueError(
            f"Unknown segment {group_by!r}; use one of {', '.join(GROUP_BY)}."
        ) from None


_PROJECT_NAMES = ("cluster__name", "department__name", "name")
_GROUPINGS = {
    Segment.PROJECT: Grouping(
        ("Cluster", "Department", "Project"), "project_id", Project, _PROJECT_NAMES
    ),
    Segment.DEPARTMENT: Grouping(
        ("Cluster", "Department"), "project__department_id", Department, ("cluster__name", "name")
    ),
    Segment.CLUSTER: Grouping(("Cluster",), "project__cluster_id", Cluster, ("name",)),
    Segment.NODEPOOL: Grouping(
        ("Cluster", "Node pool"), "nodepool_id", NodePool, ("cluster__name", "name")
    ),
    WORKLOAD: Grouping(
        ("Cluster", "Department", "Project", "Workload"),
        "project_id",
        Project,
        _PROJECT_NAMES,
        by_workload=True,
    ),
}

_HOUR_DECIMALS = 4  # hours are given to 4 decimals (spec 4.3)
# Micro-seconds (millionths of a unit × seconds) in one 10,000th of an hour.
_MICRO_SECONDS_PER_STEP = MICRO * HOUR_SECONDS // 10**_HOUR_DECIMALS


@dataclass(frozen=True)
class Measure:
    """One of a report's six numbers: `name` names it in code (POSITION), `column` is its
    CSV header, `amount` the sample's field it sums. Millionths become hours to 4 decimals;
    bytes become byte-hours, kept as whole MiB and the rest (`in_mib`)."""

    name: str
    column: str
    amount: str
    in_mib: bool = False

    @cached_property
    def sums(self) -> tuple[str, ...]:
        """The rollup's columns (and the aggregation's sums) that keep this measure."""
        stem = self.amount.removesuffix("_micro").removesuffix("_bytes")
        return (f"{stem}_mib", f"{stem}_rest") if self.in_mib else (stem,)

    def sql(self) -> tuple[str, ...]:
        """Each sum as SQL over the sample's columns and the overlap in seconds `o`."""
        a = self.amount
        if not self.in_mib:
            return (f"SUM({a} * o)",)
        return (f"SUM(({a} / {MIB}) * o)", f"SUM(({a} - ({a} / {MIB}) * {MIB}) * o)")

    def expressions(self) -> tuple:
        """Each sum's amount as an ORM expression, to be multiplied by an overlap."""
        a = F(self.amount)
        if not self.in_mib:
            return (a,)
        return (a / Value(MIB), a - a / Value(MIB) * Value(MIB))

    def exact(self, sums: Sequence[int]) -> Fraction:
        """The measure from its sums, unrounded: hours, or byte-hours."""
        if not self.in_mib:
            (micro_seconds,) = sums
            return Fraction(micro_seconds, MICRO * HOUR_SECONDS)
        mib, rest = sums
        return Fraction(mib * MIB + rest, HOUR_SECONDS)

    def value(self, sums: Sequence[int], first: int = 0) -> Decimal | int:
        """The measure from its sums (in the order of `sums`, from `first` on), rounded half
        up: hours to _HOUR_DECIMALS decimals, byte-hours to whole ones. Integer arithmetic
        throughout."""
        if not self.in_mib:
            steps = half_up(sums[first], _MICRO_SECONDS_PER_STEP)
            return Decimal(steps).scaleb(-_HOUR_DECIMALS)
        return half_up(sums[first] * MIB + sums[first + 1], HOUR_SECONDS)


def half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (> 0) to the nearest integer, halves away from zero."""
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((denominator - 2 * numerator) // (2 * denominator))


MEASURES = (
    Measure("gpu_allocation_hours", "GPU allocation hours", "gpu_allocated_micro"),
    Measure("gpu_idle_hours", "GPU Idle hours", "gpu_idle_micro"),
    Measure("cpu_allocation_hours", "CPU cores allocation hours", "cpu_allocated_micro"),
    Measure("cpu_usage_hours", "CPU cores usage hours", "cpu_used_micro"),
    Measure(
        "memory_allocation_byte_hours",
        "CPU Memory bytes allocation hours",
        "memory_allocated_bytes",
        in_mib=True,
    ),
    Measure(
        "memory_usage_byte_hours", "CPU Memory bytes usage hours", "memory_used_bytes", in_mib=True
    ),
)
# Where each measure is in MEASURES (and in a row's measures), by its name.
POSITION = {measure.name: number for number, measure in enumerate(MEASURES)}
# Every sum behind the measures, in order: the rollup's columns.
SUMS = tuple(name for measure in MEASURES for name in measure.sums)
# Each measure with the slice of SUMS that keeps it.
_SPANS = tuple(
    (measure, slice(end - len(measure.sums), end))
    for measure, end in zip(MEASURES, accumulate(len(m.sums) for m in MEASURES), strict=True)
)


def exact_measure(name: str, sums: Sequence[int]) -> Fraction:
    """One measure (by its name), unrounded, from all the sums (in the order of SUMS)."""
    measure, span = _SPANS_BY_NAME[name]
    return measure.exact(sums[span])


_SPANS_BY_NAME = {measure.name: (measure, span) for measure, span in _SPANS}


def measure_values(sums: Sequence[int]) -> tuple[Decimal | int, ...]:
    """The six measures, in the order of MEASURES, from all the sums (in the order of SUMS)."""
    return tuple([measure.value(sums, span.start) for measure, span in _SPANS])


# The amounts a sample stores, in the measures' order, as (name, type): the last fields of the
# records that carry a sample by name (a parsed row, a collected pod-hour).
AMOUNT_FIELDS = tuple((measure.amount, int) for measure in MEASURES)


PERIOD_START = "Period start"  # the first column of a report with time buckets
# The cost columns a report may add after the measures, each headed with its currency.
COSTS = ("GPU cost", "GPU idle cost", "CPU cost", "CPU memory cost", "Total cost")


def header(segment: str, bucketed: bool = False, currency: str | None = None) -> list[str]:
    """A report's CSV header: the bucket's first day if it has buckets, the segment's columns,
    the measures', then the costs' in `currency` if it has costs."""
    leading = [PERIOD_START] if bucketed else []
    costs = [f"{cost} ({currency})" for cost in COSTS] if currency else []
    return [*leading, *grouping_of(segment).columns, *(m.column for m in MEASURES), *costs]


class Kind(enum.Enum):
    """What a report file's column holds, as its header says: how other formats type it."""

    DATE = "date"  # the Period start: an ISO date
    TEXT = "text"  # a segment's name
    HOURS = "hours"  # hours to 4 decimals
    BYTE_HOURS = "byte-hours"  # whole byte-hours
    MONEY = "money"  # an amount of the currency in the header, to cents


_COST_HEADER = re.compile(rf"(?:{'|'.join(map(re.escape, COSTS))}) \([A-Z]{{3}}\)")
_MEASURE_KINDS = {m.column: Kind.BYTE_HOURS if m.in_mib else Kind.HOURS for m in MEASURES}


def column_kinds(head: Sequence[str]) -> list[Kind]:
    """The kind of each column of a report file with this header."""
    return [
        Kind.DATE
        if column == PERIOD_START
        else _MEASURE_KINDS.get(column)
        or (Kind.MONEY if _COST_HEADER.fullmatch(column) else Kind.TEXT)
        for column in head
    ]
