"""The report's CSV file (spec 4.3): UTF-8, RFC 4180 quoting, a header row, one row per segment;
the summary of it that the report's page shows; and the file read back for that page."""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import BinaryIO, TextIO

from consumption.aggregation import ConsumptionRow
from consumption.measures import MEASURES, PERIOD_START, Kind, column_kinds, header

PREVIEW_ROWS = 10  # the CSV's first rows, shown on the report's page
CHART_SEGMENTS = 10  # the segments with the most GPU allocation hours, charted there
# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(
    out: TextIO,
    group_by: str,
    rows: Iterable[ConsumptionRow],
    bucketed: bool = False,
    currency: str | None = None,
) -> int:
    """Write the header and the rows; return how many rows were written. A report with costs
    gives their `currency`."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(group_by, bucketed, currency))
    count = 0
    for row in rows:
        writer.writerow(cells(row))
        count += 1
    return count


def cells(row: ConsumptionRow) -> list[str]:
    """A row as the CSV writes it: its bucket's first day (an ISO date) if it has one, and its
    costs if it has them."""
    leading = [] if row.period_start is None else [row.period_start.isoformat()]
    numbers = [*row.measures, *(row.costs or ())]
    return [*leading, *map(_text_cell, row.segment), *map(_number_cell, numbers)]


def summary(
    group_by: str,
    rows: list[ConsumptionRow],
    bucketed: bool = False,
    currency: str | None = None,
) -> dict:
    """What the report's page shows, kept with the report while the build has its rows: the
    CSV's header and first rows (`preview`), and the segments with the most GPU allocation
    hours over the whole period, largest first, as [names joined by " / ", hours] (`top`)."""
    hours: dict[tuple[str, ...], Decimal] = {}
    for row in rows:
        hours[row.segment] = hours.get(row.segment, 0) + row.measure("gpu_allocation_hours")
    return {
        "preview": [header(group_by, bucketed, currency), *map(cells, rows[:PREVIEW_ROWS])],
        "top": [
            [" / ".join(segment), _number_cell(total)] for segment, total in largest_segments(hours)
        ],
    }


def largest_segments(
    hours: dict[tuple[str, ...], Decimal],
) -> list[tuple[tuple[str, ...], Decimal]]:
    """The CHART_SEGMENTS segments with the most GPU allocation hours, largest first (ties in
    the order given), as (names, hours), from each segment's hours over the whole period."""
    return heapq.nlargest(CHART_SEGMENTS, hours.items(), key=itemgetter(1))


def _text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _number_cell(value: Decimal | int) -> str:
    text = str(value)
    # Plain decimal notation, never an exponent: str(Decimal("1E+3")) would keep it.
    return format(value, "f") if "E" in text else text


@dataclass(frozen=True)
class FileRow:
    """A row of a report's file, read back: its bucket's first day (None without buckets), the
    segment's names, the measures in the order of MEASURES (hours as Decimal, byte-hours as
    int), and the amounts of its cost columns, if it has any."""

    period_start: date | None
    names: tuple[str, ...]
    measures: tuple[Decimal | int, ...]
    costs: tuple[Decimal, ...]


def read_csv(file: BinaryIO) -> tuple[list[str], list[FileRow]]:
    """A report's file as its header and its rows, each column read as its header says
    (`column_kinds`), the text cells as they were before `write_csv` guarded them against
    spreadsheet formulas. ValueError, naming the problem, for what is not a report's file."""
    reader = csv.reader(io.TextIOWrapper(file, encoding="utf-8", newline=""))
    head = next(reader, None)
    if head is None:
        raise ValueError("The file is empty: a report's file starts with its header.")
    layout = _Layout.of(head)
    return head, [layout.row(cells, line) for line, cells in enumerate(reader, start=2)]


@dataclass(frozen=True)
class _Layout:
    """Where a report file's columns of each kind are, by their positions in its header."""

    width: int
    period_start: int | None
    names: list[int]
    measures: list[int]
    costs: list[int]

    @classmethod
    def of(cls, head: list[str]) -> _Layout:
        kinds = column_kinds(head)
        at = {kind: [n for n, k in enumerate(kinds) if k == kind] for kind in Kind}
        measures = sorted(at[Kind.HOURS] + at[Kind.BYTE_HOURS])
        if [head[n] for n in measures] != [measure.column for measure in MEASURES]:
            raise ValueError("The file's header lacks the six measures of a report, in order.")
        if len(at[Kind.DATE]) > 1:
            raise ValueError(f"The file's header has {PERIOD_START!r} more than once.")
        period_start = at[Kind.DATE][0] if at[Kind.DATE] else None
        return cls(len(head), period_start, at[Kind.TEXT], measures, at[Kind.MONEY])

    def row(self, cells: list[str], line: int) -> FileRow:
        if len(cells) != self.width:
            raise ValueError(f"Line {line} has {len(cells)} cells; the header has {self.width}.")
        try:
            return FileRow(
                None if self.period_start is None else date.fromisoformat(cells[self.period_start]),
                tuple(text_value(cells[n]) for n in self.names),
                tuple(
                    _whole(cells[n]) if measure.in_mib else _decimal(cells[n])
                    for measure, n in zip(MEASURES, self.measures, strict=True)
                ),
                tuple(_decimal(cells[n]) for n in self.costs),
            )
        except ValueError as bad:
            raise ValueError(f"Line {line}: {bad}") from None


def _whole(cell: str) -> int:
    try:
        return int(cell)
    except ValueError:
        raise ValueError(f"{cell!r} is not a whole number.") from None


def _decimal(cell: str) -> Decimal:
    """A number cell as written by `_number_cell`: finite, in decimal notation."""
    try:
        value = Decimal(cell)
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite():
        raise ValueError(f"{cell!r} is not a number.")
    return value


def text_value(cell: str) -> str:
    """A text cell of the file as it was before `write_csv` guarded it against formulas."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell
