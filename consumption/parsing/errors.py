"""What goes wrong in a usage file: one line or field (`RowError`), or the whole file
(`FileError`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one line of the file is not a valid sample (field None: the whole line)."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        if self.field is None:
            return f"line {self.line}: {self.reason}"
        return f"line {self.line}, {self.field}: {self.reason}"


class FileError(Exception):
    """The whole file is unusable (empty, no header, missing columns, unknown format...)."""
