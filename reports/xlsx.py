"""A report's stored CSV as an Excel workbook (reports.formats.XLSX)."""

from __future__ import annotations

import unicodedata
from datetime import date
from functools import lru_cache
from typing import BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from consumption.measures import Kind

from .formats import typed_rows

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
    with typed_rows(source) as (head, kinds, rows):
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
    with typed_rows(source) as (head, _kinds, rows):
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
