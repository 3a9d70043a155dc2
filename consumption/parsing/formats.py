"""The two formats of a usage file, CSV and JSON Lines: which one a path has, and reading either
into samples, line by line."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from operator import itemgetter
from typing import BinaryIO

from .errors import FileError, RowError
from .fields import FIELDS, RowConverter, SampleRow
from .lines import Lines, LineTooLong

FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


def format_for(path: str) -> str:
    """The file format ("csv" or "jsonl") chosen by the path's extension; "-" is CSV on stdin."""
    if path == "-":
        return "csv"
    for extension, fmt in FORMATS.items():
        if path.lower().endswith(extension):
            return fmt
    raise FileError(
        f"Cannot tell the format of {path!r}: use a .csv or .jsonl file, or - for CSV on "
        "standard input."
    )


def read_samples(stream: BinaryIO, fmt: str) -> Iterator[SampleRow | RowError]:
    """One SampleRow, or one RowError per bad field, for each data line of a binary stream."""
    if fmt == "csv":
        samples = _csv_samples(stream)
    elif fmt == "jsonl":
        samples = _jsonl_samples(stream)
    else:
        raise FileError(f"Unknown format {fmt!r}: expected one of {', '.join(FORMATS.values())}.")
    # Read up to the first data line now, so that a FileError (an empty file, a bad header) comes
    # from this call, before anything is yielded. The readers raise rather than yield nothing.
    first = next(samples)
    return itertools.chain((first,), samples)


# --- CSV -----------------------------------------------------------------------------------------


def _csv_samples(stream: BinaryIO) -> Iterator[SampleRow | RowError]:
    lines = Lines(stream)
    problems = lines.problems
    reader = csv.reader(lines, strict=True)
    convert = RowConverter(text_only=True).convert
    pick = None  # set by the header, the first non-blank record
    width = 0
    has_data = False
    last_line = 0
    while True:
        try:
            for cells in reader:
                line = last_line + 1  # a quoted value may span lines: the record's first line
                last_line = lines.number
                if problems:
                    # A line of this record could not be read; that is the record's error.
                    error = problems[0]
                    problems.clear()
                    if pick is None:
                        raise FileError(f"The header (line {error.line}) {error.reason}.")
                    has_data = True
                    yield error
                elif not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # a blank line
                elif pick is None:
                    pick = _pick_columns(line, cells)
                    width = len(cells)
                elif len(cells) != width:
                    has_data = True
                    yield RowError(line, None, f"has {len(cells)} cells but the header has {width}")
                else:
                    has_data = True
                    result = convert(line, pick(cells))
                    if type(result) is list:
                        yield from result
                    else:
                        yield result
            break
        except (csv.Error, LineTooLong) as failure:
            # The reader starts afresh with the next line.
            line = last_line + 1
            last_line = lines.number
            if problems:
                error = problems[0]
                problems.clear()
            elif isinstance(failure, LineTooLong):
                error = failure.error
            elif str(failure) == "unexpected end of data":
                error = RowError(line, None, "has a quoted value whose closing quote is missing")
            else:
                error = RowError(line, None, f"is not valid CSV: {failure}")
            if pick is None:
                raise FileError(f"The header (line {error.line}) {error.reason}.") from None
            has_data = True
            yield error
    if pick is None:
        raise FileError("The file is empty.")
    if not has_data:
        raise FileError("The file has a header row but no data rows.")


def _pick_columns(line: int, names: list[str]) -> Callable[[list[str]], tuple[str, ...]]:
    """A function taking the FIELDS, in order, from a row with these column names."""
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        name = name.strip()
        if name in FIELDS:
            if name in positions:
                raise FileError(f"The header (line {line}) has the column {name!r} twice.")
            positions[name] = position
    missing = [field for field in FIELDS if field not in positions]
    if missing:
        raise FileError(
            f"The header (line {line}) lacks the column(s) {', '.join(missing)}. A CSV file "
            f"starts with a header row naming these columns: {', '.join(FIELDS)}."
        )
    return itemgetter(*(positions[field] for field in FIELDS))


# --- JSON Lines ----------------------------------------------------------------------------------

# parse_float keeps every digit; NaN and Infinity become Decimals so the field check names them.
_json_decode = json.JSONDecoder(parse_float=Decimal, parse_constant=Decimal).decode
_pick_fields = itemgetter(*FIELDS)


def _jsonl_samples(stream: BinaryIO) -> Iterator[SampleRow | RowError]:
    lines = Lines(stream)
    problems = lines.problems
    convert = RowConverter(text_only=False).convert
    has_data = False
    while True:
        try:
            for text in lines:
                if problems:
                    has_data = True
                    yield problems.pop()
                elif not text.isspace():
                    has_data = True
                    yield from _jsonl_line(lines.number, text, convert)
            break
        except LineTooLong as failure:
            has_data = True
            yield failure.error
    if not has_data:
        raise FileError("The file is empty.")


def _jsonl_line(
    line: int, text: str, convert: Callable[[int, tuple], SampleRow | list[RowError]]
) -> Iterator[SampleRow | RowError]:
    """What one non-blank line of a JSON Lines file gives."""
    try:
        value = _json_decode(text)
    except json.JSONDecodeError as error:
        yield RowError(line, None, f"is not valid JSON: {error.msg} (column {error.colno})")
        return
    except (ValueError, RecursionError) as error:  # a huge integer, deep nesting
        yield RowError(line, None, f"is not valid JSON: {error}")
        return
    if type(value) is not dict:
        yield RowError(line, None, f"must be a JSON object (got {_json_kind(value)})")
        return
    try:
        raw = _pick_fields(value)
    except KeyError:
        for field in FIELDS:
            if field not in value:
                yield RowError(line, field, "is missing")
        return
    result = convert(line, raw)
    if type(result) is list:
        yield from result
    else:
        yield result


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return "a number"
