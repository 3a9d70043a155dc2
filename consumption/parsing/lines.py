"""The lines of a usage file as text, numbered, with a limit on their length."""

from __future__ import annotations

from typing import BinaryIO

from .errors import FileError, RowError

# A line longer than this is refused rather than read into memory.
MAX_LINE_BYTES = 1 << 20


class LineTooLong(Exception):
    """A line longer than MAX_LINE_BYTES; `error` reports it."""

    def __init__(self, error: RowError):
        self.error = error


class Lines:
    """The lines of a binary stream as text, numbered from 1 in `number`.

    A line that is not UTF-8 is noted in `problems` and decoded with replacement characters, so
    that a CSV record keeps its shape. A line longer than MAX_LINE_BYTES is skipped without being
    kept in memory, and raises LineTooLong; iterating again goes on with the next line.
    """

    def __init__(self, stream: BinaryIO):
        self.readline = stream.readline
        self.number = 0
        self.problems: list[RowError] = []

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        raw = self.readline(MAX_LINE_BYTES)
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1:
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise FileError("The file is UTF-16; save it as UTF-8.")
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while (rest := self.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            raise LineTooLong(
                RowError(self.number, None, f"is longer than {MAX_LINE_BYTES:,} bytes")
            )
        try:
            return raw.decode()
        except UnicodeDecodeError as error:
            self.problems.append(
                RowError(
                    self.number,
                    None,
                    f"is not valid UTF-8 (byte 0x{raw[error.start]:02X} at position "
                    f"{error.start + 1}); save the file as UTF-8",
                )
            )
            return raw.decode(errors="replace")
