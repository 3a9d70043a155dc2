"""The formats a Ready report downloads as: its stored CSV file as it is, or converted to XLSX
for spreadsheets or Parquet for warehouses. A conversion reads the stored file, never the usage
again; each column is typed by what its header says it holds (consumption.measures.column_kinds),
and the rows are read and written as they come, so that memory stays flat however long the
file is."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from django.utils.module_loading import import_string

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
def typed_rows(source: BinaryIO) -> Iterator[tuple[list[str], list[Kind], Iterator[list]]]:
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


# The formats


@dataclass(frozen=True)
class FileFormat:
    """A format a Ready report downloads as: its name (`?format=`, and the file's extension),
    what the pages call it, its content type, how it is written from the stored CSV (None for
    the CSV itself), and the most rows it holds, if it has a limit."""

    name: str
    label: str
    content_type: str
    writer: str | None = None  # the function's dotted path, imported when first used
    max_rows: int | None = None

    def write(self, source: BinaryIO, target: BinaryIO) -> None:
        """Write the stored CSV `source` in this format to `target`. The writers are imported
        here, not with this module: openpyxl and pyarrow would add 40 MB to every process."""
        import_string(self.writer)(source, target)


CSV = FileFormat("csv", "CSV", "text/csv; charset=utf-8")
XLSX = FileFormat(
    "xlsx",
    "Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "reports.xlsx.write_xlsx",
    # An Excel sheet has 1,048,576 rows, the header's among them.
    max_rows=1_048_575,
)
PARQUET = FileFormat(
    "parquet", "Parquet", "application/vnd.apache.parquet", "reports.parquet.write_parquet"
)
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
