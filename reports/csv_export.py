"""The report's CSV file (spec 4.3): UTF-8, RFC 4180 quoting, a header row, one row per segment."""

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import TextIO

from consumption.aggregation import ConsumptionRow
from consumption.measures import header

# Spreadsheets run a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write_csv(out: TextIO, group_by: str, rows: Iterable[ConsumptionRow]) -> int:
    """Write the header and the rows; return how many rows were written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(group_by))
    count = 0
    for row in rows:
        writer.writerow([*map(_text_cell, row.segment), *map(_number_cell, row.measures)])
        count += 1
    return count


def _text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _number_cell(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    # Plain decimal notation, never an exponent: str(Decimal("1E+3")) would keep it.
    return format(value, "f")
