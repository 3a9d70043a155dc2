"""Reading and checking usage files (spec 3.1, 3.2): CSV or JSON Lines in, one `SampleRow` or
`RowError`s per data line out, streamed so that memory does not grow with the file.

`lines` reads a file's lines, `formats` the two formats, `fields` checks each field's value.
"""

from .errors import FileError, RowError
from .fields import FIELDS, MAX_NAME_LENGTH, SampleRow
from .formats import FORMATS, format_for, read_samples

__all__ = [
    "FIELDS",
    "FORMATS",
    "MAX_NAME_LENGTH",
    "FileError",
    "RowError",
    "SampleRow",
    "format_for",
    "read_samples",
]
