"""A Ready report on its page: every row of its stored file (never rebuilt), sortable and paged,
each measure readable at a glance (thousands separators, two decimals, memory in GiB-hours where
the file keeps Run:ai's byte-hours), the GPU idle share of each segment, and the totals."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter

from django.core.paginator import Page, Paginator

from consumption.measures import MEASURES
from consumption.models import GIB

from .csv_export import CHART_SEGMENTS, FileRow, read_csv
from .models import Report

ROWS_PER_PAGE = 50
_POSITION = {measure.name: number for number, measure in enumerate(MEASURES)}


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool
    value: Callable[[tuple], object] | None = None  # from a row's measures
    text: Callable[[object], str] = str


@dataclass(frozen=True)
class Heading:
    """A column's header cell: its text, whether it holds numbers, the `?sort=` its link asks
    for (this column, or this column the other way round), and its aria-sort."""

    header: str
    numeric: bool
    link_sort: str
    aria_sort: str | None


@dataclass(frozen=True)
class Bar:
    """A segment in the chart: its GPU allocation hours as a share of the largest segment's
    (the bar's length), the idle part at its end."""

    label: str
    text: str
    percent: float
    idle_percent: float

    @property
    def idle_start(self) -> float:
        return self.percent - self.idle_percent


@dataclass(frozen=True)
class Reading:
    headings: list[Heading]
    page: Page  # its rows are lists of (text, numeric) cells
    page_range: list
    totals: list[tuple[str, bool]]
    chart: list[Bar]
    largest: list[tuple[str, ...]]  # the charted segments' names, largest first


def hours_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def _gib_hours(byte_hours: int) -> str:
    return f"{Decimal(byte_hours) / GIB:,.2f}"


def _share(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _idle_share(allocated: Decimal, idle: Decimal) -> Decimal | None:
    """Idle GPU hours over allocated ones; None where nothing was allocated."""
    return idle / allocated if allocated else None


def _row_idle_share(measures: tuple) -> Decimal | None:
    return _idle_share(
        measures[_POSITION["gpu_allocation_hours"]], measures[_POSITION["gpu_idle_hours"]]
    )


def _measure_columns() -> list[Column]:
    """The measures as the page shows them, the GPU idle share after the idle hours."""
    columns = []
    for number, measure in enumerate(MEASURES):
        header = measure.column.replace("bytes", "GiB") if measure.in_mib else measure.column
        text = _gib_hours if measure.in_mib else hours_text
        columns.append(Column(header, True, itemgetter(number), text))
        if measure.name == "gpu_idle_hours":
            columns.append(Column("GPU idle share", True, _row_idle_share, _share))
    return columns


MEASURE_COLUMNS = _measure_columns()


def read_report(report: Report, *, sort: str | None, page: str | None) -> Reading:
    """The report's rows in the order `sort` asks (a column's number, `-` first for
    descending; the file's order otherwise), the page `page` of them, and the totals."""
    with report.file.open("rb") as file:
        head, rows = read_csv(file)
    names = len(head) - len(MEASURES)
    columns = [Column(name, numeric=False) for name in head[:names]] + MEASURE_COLUMNS
    number, descending = _sort_of(sort, len(columns))
    if number is not None:
        column = columns[number]
        rows.sort(key=lambda row: _sort_key(_value(row, column, number)), reverse=descending)
    shown = Paginator(rows, ROWS_PER_PAGE).get_page(page)
    shown.object_list = [_cells(row, columns) for row in shown.object_list]
    totals = FileRow(
        ("Total",) + ("",) * (names - 1),
        tuple(sum(row.measures[i] for row in rows) for i in range(len(MEASURES))),
    )
    headings = []
    for n, column in enumerate(columns):
        ascending_now = n == number and not descending
        aria = None if n != number else ("descending" if descending else "ascending")
        link = f"-{n}" if ascending_now else str(n)
        headings.append(Heading(column.header, column.numeric, link, aria))
    page_range = list(shown.paginator.get_elided_page_range(shown.number))
    allocated, idle = _POSITION["gpu_allocation_hours"], _POSITION["gpu_idle_hours"]
    top = heapq.nlargest(CHART_SEGMENTS, rows, key=lambda row: row.measures[allocated])
    return Reading(
        headings,
        shown,
        page_range,
        _cells(totals, columns),
        chart=bars(
            (" / ".join(row.names), row.measures[allocated], row.measures[idle]) for row in top
        ),
        largest=[row.names for row in top],
    )


def bars(segments: Iterable[tuple[str, Decimal, Decimal | None]]) -> list[Bar]:
    """The chart's bars of these segments, given largest first as (label, GPU allocation hours,
    idle hours or None where they are not known): each as long as its share of the first."""
    segments = list(segments)
    largest = segments[0][1] if segments and segments[0][1] > 0 else 1
    return [
        Bar(
            label,
            f"{hours_text(allocated)} h"
            + ("" if idle is None else f", {_share(_idle_share(allocated, idle))} idle"),
            float(allocated / largest * 100),
            float((idle or 0) / largest * 100),
        )
        for label, allocated, idle in segments
    ]


def _value(row: FileRow, column: Column, number: int):
    # The segment's names come first: column `number` of them is name `number`.
    return column.value(row.measures) if column.value else row.names[number]


def _values(row: FileRow, columns: list[Column]) -> list:
    return [_value(row, column, number) for number, column in enumerate(columns)]


def _cells(row: FileRow, columns: list[Column]) -> list[tuple[str, bool]]:
    values = _values(row, columns)
    return [
        (column.text(value), column.numeric) for column, value in zip(columns, values, strict=True)
    ]


def _sort_of(sort: str | None, count: int) -> tuple[int | None, bool]:
    text = (sort or "").strip()
    descending = text.startswith("-")
    try:
        number = int(text.removeprefix("-"))
    except ValueError:
        return None, False
    return (number, descending) if 0 <= number < count else (None, False)


def _sort_key(value) -> tuple:
    # Names regardless of letter case; a share of nothing allocated sorts below any other.
    if value is None:
        return (0, Decimal(0))
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)
