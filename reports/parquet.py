"""A report's stored CSV as a Parquet file (reports.formats.PARQUET)."""

from __future__ import annotations

from itertools import islice
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from consumption.measures import Kind

from .formats import typed_rows

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
    with typed_rows(source) as (head, kinds, rows):
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
