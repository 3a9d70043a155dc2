"""The formats a Ready report downloads as: its stored CSV file as it is, or converted to XLSX
for spreadsheets or Parquet for warehouses. A conversion reads the stored file, never the usage
again; each column is typed by what its header says it holds (consumption.measures.column_kinds),
and the rows are read and written as they come, so that memory stays flat however long the
file is."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from consumption.measures import Kind, column_kinds

from .csv_export import text_value

# A cell of each kind as a value: what a column of that kind holds in the other formats.
_VALUE = {
    Kind.DATE: date.fromisoformat,
    Kind.TEXT: text_value,
    Kind.HOURS: Decimal,
    Kind.BYTE_HOURS: int,
    Kind.MONEY: Decimal,
}


@contextmanager
def _typed_rows(source: BinaryIO) -> Iterator[tuple[list[str], list[Kind], Iterator[list]]]:
    """The stored file's header, the kind of each column, and its rows with each cell as a
    value of its column's kind, read from the file's start."""
    source.seek(0)
    text = io.TextIOWrapper(source, encoding="utf-8", newline="")
    try:
        reader = csv.reader(text)
        head = next(reader)
        kinds = column_kinds(head)
        values = [_VALUE[kind] for kind in kinds]
        yield (
            head,
            kinds,
            ([value(cell) for value, cell in zip(values, row, strict=True)] for row in reader),
        )
    finally:
        text.detach()  # the caller's file stays open


# XLSX

SHEET_TITLE = "Report"
# How Excel shows each kind of number (a number format); text is stored as text.
_NUMBER_FORMATS = {
    Kind.DATE: "yyyy-mm-dd",
    Kind.HOURS: "#,##0.0000",
    Kind.BYTE_HOURS: "#,##0",
    Kind.MONEY: "#,##0.00",
}
_HEADER_FONT = Font(bold=True)
_PADDING = 2  # characters beside a column's widest cell
_FILTER_BUTTON = 3  # characters that the filter's button takes beside a header
_MAX_WIDTH = 60  # longer names wrap to the cell's width in Excel's bar, not in the sheet


def write_xlsx(source: BinaryIO, target: BinaryIO) -> None:
    """The stored file as a workbook of one sheet: a bold header row, frozen, with filters on;
    numbers as numbers (hours to 4 decimals, byte-hours whole, money to cents) and the period's
    first day as a date, each shown as the CSV writes it with thousands separators; names as
    text, never a formula, each column wide enough for its widest cell. Written in openpyxl's
    write-only mode, which streams the rows: the widths are found in a first pass over the
    file, since they must be written before the rows."""
    widths = _column_widths(source)
    book = Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    for number, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(number)].width = width
    sheet.freeze_panes = "A2"
    with _typed_rows(source) as (head, kinds, rows):
        sheet.append([_header_cell(sheet, name) for name in head])
        last_row = 1
        for row in rows:
            sheet.append(
                [_cell(sheet, kind, value) for kind, value in zip(kinds, row, strict=True)]
            )
            last_row += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(head))}{last_row}"
    book.save(target)


def _header_cell(sheet, name: str) -> WriteOnlyCell:
    cell = _text_cell(sheet, name)
    cell.font = _HEADER_FONT
    return cell


def _cell(sheet, kind: Kind, value) -> WriteOnlyCell:
    if kind is Kind.TEXT:
        return _text_cell(sheet, value)
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = _NUMBER_FORMATS[kind]
    return cell


def _text_cell(sheet, text: str) -> WriteOnlyCell:
    """A cell that holds the text as text: openpyxl would take one that starts with `=` for a
    formula and `#N/A` for an error. The control characters that XML cannot hold (names may
    come from anywhere) are shown as U+FFFD."""
    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", text))
    cell.data_type = "s"
    return cell


def _column_widths(source: BinaryIO) -> list[int]:
    """Each column's width in characters: its widest cell as the sheet shows it."""
    with _typed_rows(source) as (head, _kinds, rows):
        widths = [_text_width(name) + _FILTER_BUTTON for name in head]
        for row in rows:
            widths = [
                max(width, _shown_width(value)) for width, value in zip(widths, row, strict=True)
            ]
    return [min(width + _PADDING, _MAX_WIDTH) for width in widths]


def _shown_width(value) -> int:
    if isinstance(value, str):
        return _text_width(value)
    if isinstance(value, date):
        return len("yyyy-mm-dd")
    return len(format(value, ","))  # as _NUMBER_FORMATS show it


@lru_cache(maxsize=4096)  # a report's names repeat on many rows
def _text_width(text: str) -> int:
    """Characters as wide as the text: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


# Parquet

# Each kind as an Arrow type: the decimals keep the CSV's exact values at its scale (hours to 4
# decimals, money to cents) with the widest precision, so that no amount is refused.
_ARROW_TYPES = {
    Kind.DATE: pa.date32(),
    Kind.TEXT: pa.string(),
    Kind.HOURS: pa.decimal128(38, 4),
    Kind.BYTE_HOURS: pa.int64(),
    Kind.MONEY: pa.decimal128(38, 2),
}
_ROWS_PER_GROUP = 16_384  # rows held in memory at once (as Python values), one row group


def write_parquet(source: BinaryIO, target: BinaryIO) -> None:
    """The stored file as a Parquet file of typed columns named as the CSV's header names
    them, none of them nullable, written a row group at a time."""
    with _typed_rows(source) as (head, kinds, rows):
        schema = pa.schema(
            pa.field(name, _ARROW_TYPES[kind], nullable=False)
            for name, kind in zip(head, kinds, strict=True)
        )
        with pq.ParquetWriter(target, schema) as writer:
            while group := list(islice(rows, _ROWS_PER_GROUP)):
                columns = [
                    pa.array(column, type=field.type)
                    for column, field in zip(zip(*group, strict=True), schema, strict=True)
                ]
                writer.write_batch(pa.record_batch(columns, schema=schema))


# The formats


@dataclass(frozen=True)
class FileFormat:
    """A format a Ready report downloads as: its name (`?format=`, and the file's extension),
    what the pages call it, its content type, how it is written from the stored CSV (None for
    the CSV itself), and the most rows it holds, if it has a limit."""

    name: str
    label: str
    content_type: str
    write: Callable[[BinaryIO, BinaryIO], None] | None = None
    max_rows: int | None = None


CSV = FileFormat("csv", "CSV", "text/csv; charset=utf-8")
XLSX = FileFormat(
    "xlsx",
    "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    write_xlsx,
    # An Excel sheet has 1,048,576 rows, the header's among them.
    max_rows=1_048_575,
)
PARQUET = FileFormat("parquet", "Parquet", "application/vnd.apache.parquet", write_parquet)
FORMATS = {file_format.name: file_format for file_format in (CSV, XLSX, PARQUET)}


class UnknownFormat(ValueError):
    """A format that is not one of FORMATS; the message names those there are."""


def format_named(name: str | None) -> FileFormat:
    """The format of this name; the CSV when none is named."""
    if name is None:
        return CSV
    try:
        return FORMATS[name]
    except KeyError:
        choices = ", ".join(FORMATS)
        raise UnknownFormat(f"Unknown file format {name!r}: use one of {choices}.") from None
