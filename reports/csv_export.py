"""The report's CSV file (spec 4.3): UTF-8, RFC 4180 quoting, a header row, one row per segment;
the summary of it that the report's page shows; and the file read back for that page."""

import csv
import heapq
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import BinaryIO, TextIO

from consumption.aggregation import ConsumptionRow
from consumption.measures import MEASURES, header

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
        hours[row.segment] = hours.get(row.segment, 0) + row.gpu_allocation_hours
    top = heapq.nlargest(CHART_SEGMENTS, hours.items(), key=itemgetter(1))
    return {
        "preview": [header(group_by, bucketed, currency), *map(cells, rows[:PREVIEW_ROWS])],
        "top": [[" / ".join(segment), _number_cell(total)] for segment, total in top],
    }


def _text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _number_cell(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    # Plain decimal notation, never an exponent: str(Decimal("1E+3")) would keep it.
    return format(value, "f")


@dataclass(frozen=True)
class FileRow:
    """A row of a report's file, read back: the segment's names, then the measures in the
    order of MEASURES (hours as Decimal, byte-hours as int)."""

    names: tuple[str, ...]
    measures: tuple[Decimal | int, ...]


def read_csv(file: BinaryIO) -> tuple[list[str], list[FileRow]]:
    """A report's file as its header and its rows, the text cells as they were before
    `write_csv` guarded them against spreadsheet formulas."""
    reader = csv.reader(io.TextIOWrapper(file, encoding="utf-8", newline=""))
    head = next(reader)
    names = len(head) - len(MEASURES)
    rows = [
        FileRow(
            tuple(map(text_value, row[:names])),
            tuple(
                int(cell) if measure.in_mib else Decimal(cell)
                for measure, cell in zip(MEASURES, row[names:], strict=True)
            ),
        )
        for row in reader
    ]
    return head, rows


def text_value(cell: str) -> str:
    """A text cell of the file as it was before `write_csv` guarded it against formulas."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell
