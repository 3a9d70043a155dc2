"""A report's downloads read back by readers other than the code that wrote them (Python's csv
module; python-calamine for XLSX, which openpyxl writes; pyarrow's Parquet reader), and what each
cell of the CSV should become in the other formats, worked out here from the CSV's text alone."""

import csv
import io
import re
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from python_calamine import CalamineWorkbook

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARQUET_TYPE = "application/vnd.apache.parquet"
# Spec 4.3: a CSV text cell starting with one of these has a `'` put before it.
GUARDED = ("=", "+", "-", "@", "\t", "\r")
NAME_COLUMNS = {"Cluster", "Department", "Project", "Node pool", "Workload"}


def column_kind(column: str) -> str:
    """What a report file's column holds, by its header (spec 4.3, and issue 15's Period start
    and cost columns)."""
    if column == "Period start":
        return "date"
    if column in NAME_COLUMNS:
        return "text"
    if re.fullmatch(r".+ cost \([A-Z]{3}\)", column):
        return "money"
    if column.startswith("CPU Memory bytes"):
        return "byte-hours"
    if column.endswith(" hours"):
        return "hours"
    raise AssertionError(f"a column no report has: {column!r}")


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def unguarded(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(GUARDED) else cell


def typed_rows(data: bytes) -> list[list]:
    """The CSV's rows below its header, each cell as the value its column holds: a date, a
    name without the CSV's guard quote, a Decimal, or an int."""
    head, *rows = csv_rows(data)
    kinds = [column_kind(column) for column in head]
    value = {
        "date": date.fromisoformat,
        "text": unguarded,
        "hours": Decimal,
        "money": Decimal,
        "byte-hours": int,
    }
    return [[value[kind](cell) for kind, cell in zip(kinds, row, strict=True)] for row in rows]


def xlsx_rows(data: bytes) -> list[list]:
    """Every row of the workbook's one sheet, header first, as python-calamine reads them."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    assert len(book.sheet_names) == 1
    return book.get_sheet_by_index(0).to_python()


def as_in_a_spreadsheet(values: list[list]) -> list[list]:
    """Typed rows as a spreadsheet holds them: numbers as floating point."""
    return [
        [float(value) if isinstance(value, Decimal | int) else value for value in row]
        for row in values
    ]


def parquet_table(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def assert_xlsx_matches_csv(xlsx: bytes, csv_data: bytes) -> None:
    """The workbook holds the CSV's header and, cell by cell, its values, typed."""
    head, *rows = xlsx_rows(xlsx)
    assert head == csv_rows(csv_data)[0]
    expected = as_in_a_spreadsheet(typed_rows(csv_data))
    assert rows == expected
    # Equal is not enough: 1.0 == True, and a date must not come back as a number or text.
    assert [list(map(type, row)) for row in rows] == [list(map(type, row)) for row in expected]


def assert_parquet_matches_csv(parquet: bytes, csv_data: bytes) -> None:
    """The Parquet file has the CSV's columns, typed by kind, and, cell by cell, its values
    (decimals with the CSV's very digits)."""
    table = parquet_table(parquet)
    head, *rows = csv_rows(csv_data)
    arrow_type = {
        "date": pa.date32(),
        "text": pa.string(),
        "hours": pa.decimal128(38, 4),
        "money": pa.decimal128(38, 2),
        "byte-hours": pa.int64(),
    }
    assert table.schema.names == head
    assert [field.type for field in table.schema] == [
        arrow_type[column_kind(column)] for column in head
    ]
    got = [list(row.values()) for row in table.to_pylist()]
    assert got == typed_rows(csv_data)
    assert [[_text(value) for value in row] for row in got] == [
        [unguarded(cell) for cell in row] for row in rows
    ]


def _text(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
