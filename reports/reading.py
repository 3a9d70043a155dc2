"""A Ready report on its page: every row of its stored file (never rebuilt), sortable and paged,
each column read as its header says: the bucket's first day where the report has buckets, the
segment's names, each measure readable at a glance (thousands separators, two decimals, memory in
GiB-hours where the file keeps Run:ai's byte-hours) with the GPU idle share of each row, and any
cost columns to the cent; the totals; and the largest segments over the whole period, charted."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.paginator import Page, Paginator

from consumption.measures import MEASURES, PERIOD_START, POSITION, Kind, column_kinds
from consumption.models import GIB

from .csv_export import FileRow, largest_segments, read_csv
from .models import Report

ROWS_PER_PAGE = 50
_ALLOCATED, _IDLE = POSITION["gpu_allocation_hours"], POSITION["gpu_idle_hours"]

# A column's cells as the page sets them out (their class): numbers right-aligned, dates on
# one line, names as text.
NUMBER, DATE, TEXT = "num", "nowrap", ""

SegmentNames = tuple[str, ...]  # a segment's names


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[FileRow], object]  # from a row of the file
    text: Callable[[object], str] = str
    css: str = TEXT


@dataclass(frozen=True)
class Heading:
    """A column's header cell: its text, its class, the `?sort=` its link asks for (this
    column, or this column the other way round), and its aria-sort."""

    header: str
    css: str
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
    page: Page  # its rows are lists of (text, class) cells
    page_range: list
    totals: list[tuple[str, str]]
    chart: list[Bar]
    largest: list[SegmentNames]  # the charted segments, largest over the whole period first
    # Their GPU allocation hours in each bucket they have rows in (none without buckets).
    periods: dict[SegmentNames, dict[date, Decimal]]


def hours_text(value: Decimal) -> str:
    return f"{value:,.2f}"


def money_text(amount: Decimal) -> str:
    """An amount to the cent, with thousands separators (its currency is in the header)."""
    return f"{amount:,.2f}"


def _gib_hours(byte_hours: int) -> str:
    return f"{Decimal(byte_hours) / GIB:,.2f}"


def _share(value: Decimal | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _idle_share(allocated: Decimal, idle: Decimal) -> Decimal | None:
    """Idle GPU hours over allocated ones; None where nothing was allocated."""
    return idle / allocated if allocated else None


def _row_idle_share(row: FileRow) -> Decimal | None:
    return _idle_share(row.measures[_ALLOCATED], row.measures[_IDLE])


def _measure(number: int) -> Callable[[FileRow], Decimal | int]:
    return lambda row: row.measures[number]


def _name(number: int) -> Callable[[FileRow], str]:
    return lambda row: row.names[number]


def _cost(number: int) -> Callable[[FileRow], Decimal]:
    return lambda row: row.costs[number]


def _period_start(row: FileRow) -> date | None:
    return row.period_start


def _day_text(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def _measure_columns() -> list[Column]:
    """The measures as the page shows them, the GPU idle share after the idle hours."""
    columns = []
    for number, measure in enumerate(MEASURES):
        header = measure.column.replace("bytes", "GiB") if measure.in_mib else measure.column
        text = _gib_hours if measure.in_mib else hours_text
        columns.append(Column(header, _measure(number), text, NUMBER))
        if number == _IDLE:
            columns.append(Column("GPU idle share", _row_idle_share, _share, NUMBER))
    return columns


MEASURE_COLUMNS = _measure_columns()


def _columns(head: list[str], kinds: list[Kind]) -> list[Column]:
    """The page's columns for a file with this header, in the file's order: its Period start,
    its names, its measures as MEASURE_COLUMNS show them, its costs to the cent."""
    names = [column for column, kind in zip(head, kinds, strict=True) if kind is Kind.TEXT]
    costs = [column for column, kind in zip(head, kinds, strict=True) if kind is Kind.MONEY]
    dated = [Column(PERIOD_START, _period_start, _day_text, DATE)] if Kind.DATE in kinds else []
    return [
        *dated,
        *(Column(name, _name(number)) for number, name in enumerate(names)),
        *MEASURE_COLUMNS,
        *(Column(cost, _cost(number), money_text, NUMBER) for number, cost in enumerate(costs)),
    ]


def read_report(report: Report, *, sort: str | None, page: str | None) -> Reading:
    """The report's rows in the order `sort` asks (a column's number, `-` first for
    descending; the file's order otherwise), the page `page` of them, the totals, and its
    largest segments over the whole period."""
    with report.file.open("rb") as file:
        head, rows = read_csv(file)
    kinds = column_kinds(head)
    columns = _columns(head, kinds)
    # In the file's order, so that segments of equal hours are charted as the build kept them.
    over_period = _over_the_period(rows)
    top = largest_segments({names: hours for names, (hours, _) in over_period.items()})
    largest = [names for names, _ in top]
    number, descending = _sort_of(sort, len(columns))
    if number is not None:
        column = columns[number]
        rows.sort(key=lambda row: _sort_key(column.value(row)), reverse=descending)
    shown = Paginator(rows, ROWS_PER_PAGE).get_page(page)
    shown.object_list = [_cells(row, columns) for row in shown.object_list]
    return Reading(
        _headings(columns, number, descending),
        shown,
        list(shown.paginator.get_elided_page_range(shown.number)),
        _totals(rows, kinds, columns),
        chart=bars((" / ".join(names), hours, over_period[names][1]) for names, hours in top),
        largest=largest,
        periods=_per_period(rows, largest),
    )


def _over_the_period(rows: list[FileRow]) -> dict[SegmentNames, tuple[Decimal, Decimal]]:
    """Each segment's GPU allocation and idle hours over the whole period: the sums of its
    rows, one a bucket where the report has buckets."""
    sums: dict[SegmentNames, tuple[Decimal, Decimal]] = {}
    for row in rows:
        allocated, idle = sums.get(row.names, (Decimal(0), Decimal(0)))
        sums[row.names] = (allocated + row.measures[_ALLOCATED], idle + row.measures[_IDLE])
    return sums


def _per_period(
    rows: list[FileRow], segments: list[SegmentNames]
) -> dict[SegmentNames, dict[date, Decimal]]:
    """These segments' GPU allocation hours in each bucket they have rows in."""
    wanted = set(segments)
    hours: dict[SegmentNames, dict[date, Decimal]] = {}
    for row in rows:
        if row.period_start is not None and row.names in wanted:
            series = hours.setdefault(row.names, {})
            series[row.period_start] = series.get(row.period_start, 0) + row.measures[_ALLOCATED]
    return hours


def _totals(rows: list[FileRow], kinds: list[Kind], columns: list[Column]) -> list[tuple[str, str]]:
    """The totals row: the measures and the costs summed over every row, the idle share of
    those sums, "Total" in the first column."""
    total = FileRow(
        None,
        ("",) * kinds.count(Kind.TEXT),
        tuple(sum(row.measures[n] for row in rows) for n in range(len(MEASURES))),
        tuple(sum(row.costs[n] for row in rows) for n in range(kinds.count(Kind.MONEY))),
    )
    (_, css), *rest = _cells(total, columns)
    return [("Total", css), *rest]


def _headings(columns: list[Column], number: int | None, descending: bool) -> list[Heading]:
    """The header cells, the sorted column's saying which way it is sorted."""
    headings = []
    for n, column in enumerate(columns):
        ascending_now = n == number and not descending
        aria = None if n != number else ("descending" if descending else "ascending")
        link = f"-{n}" if ascending_now else str(n)
        headings.append(Heading(column.header, column.css, link, aria))
    return headings


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


def _cells(row: FileRow, columns: list[Column]) -> list[tuple[str, str]]:
    return [(column.text(column.value(row)), column.css) for column in columns]


def _sort_of(sort: str | None, count: int) -> tuple[int | None, bool]:
    text = (sort or "").strip()
    descending = text.startswith("-")
    try:
        number = int(text.removeprefix("-"))
    except ValueError:
        return None, False
    return (number, descending) if 0 <= number < count else (None, False)


def _sort_key(value) -> tuple:
    # Names regardless of letter case; a share of nothing allocated sorts below any other;
    # dates and numbers as themselves.
    if value is None:
        return (0, Decimal(0))
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)
