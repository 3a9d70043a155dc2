"""A usage sample's fields (spec 3.1): their names in a usage file (`FIELDS`), the checks that
turn one line's values into a `SampleRow` in the units the database stores, or into `RowError`s,
and `RowConverter`, which applies them all to one line.

Only what one line can tell is checked here; what needs the database or the whole file (a project
in two departments, a cluster's name) is the importer's business.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import NamedTuple

from ..measures import AMOUNT_FIELDS
from ..models import MAX_DURATION_SECONDS, MICRO
from .errors import RowError

DEFAULT_NODEPOOL = "default"
MAX_NAME_LENGTH = 200
# Bounds that keep every sum of amount x seconds within a signed 64-bit integer for any realistic
# number of samples: 10**6 cores in millionths is 10**12, times a day of seconds ~ 8.6 * 10**16.
MAX_UNITS = 1_000_000
MAX_BYTES = 10**15
MIN_START_EPOCH = 0  # 1970-01-01T00:00:00Z
END_START_EPOCH = 4_102_444_800  # 2100-01-01T00:00:00Z, excluded
# Converted values are cached per file, as names and amounts repeat a lot. A cache is bounded so
# that memory stays flat; the names' caches are larger, to hold every workload of a time interval.
_CACHE_SIZE = 1024
_NAME_CACHE_SIZE = 16_384


class SampleRow(
    NamedTuple(
        "SampleRow",
        [
            ("line", int),
            ("cluster_id", uuid.UUID),
            ("cluster", str),
            ("nodepool", str),
            ("department", str),
            ("project", str),
            ("workload", str),
            ("start_epoch", int),
            ("duration_seconds", int),
            *AMOUNT_FIELDS,
        ],
    )
):
    """One valid sample: its line, then the FIELDS in order, in the units the database stores:
    the amounts (`gpu_allocated_micro` to `memory_used_bytes`) are the measures'. (A named tuple:
    immutable, and quick to make a million times.)"""

    __slots__ = ()


class _Invalid(ValueError):
    """A field's value is wrong; the message says why."""


def _show(value: object) -> str:
    """The value as the user wrote it, shortened, for a message."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            text = text[:37] + "..."
        return text if text.isprintable() else repr(text)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None or isinstance(value, bool):
        return json.dumps(value)  # null, true, false as the file has them
    return str(value)


# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"must be text (got {_show(value)})")
    name = value.strip()
    if not name:
        raise _Invalid("is required")
    if len(name) > MAX_NAME_LENGTH:
        raise _Invalid(f"must be at most {MAX_NAME_LENGTH} characters (got {len(name)})")
    # isprintable() is False for every control character, and quick; the search says which.
    if not name.isprintable() and (control := _CONTROL.search(name)):
        raise _Invalid(
            f"must not contain control characters (found {control.group()!r} at position "
            f"{control.start() + 1})"
        )
    return name


def _nodepool(value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_NODEPOOL
    return _name(value)


def _cluster_id(value: object) -> uuid.UUID:
    if isinstance(value, str):
        if not value.strip():
            raise _Invalid("is required")
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            pass
    raise _Invalid(
        f"must be a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e (got {_show(value)})"
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _start(value: object) -> int:
    example = "such as 2024-05-01T13:00:00Z"
    if not isinstance(value, str):
        raise _Invalid(f"must be an ISO 8601 date and time, {example} (got {_show(value)})")
    text = value.strip()
    if not text:
        raise _Invalid("is required")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(
            f"must be an ISO 8601 date and time with a time zone, {example} (got {_show(value)})"
        ) from None
    if len(text) <= 10:  # fromisoformat takes a bare date as midnight
        raise _Invalid(f"must have a time and a time zone, {example} (got {_show(value)})")
    if moment.tzinfo is None:
        raise _Invalid(f"has no time zone; add Z or an offset such as +00:00 (got {_show(value)})")
    since_epoch = moment - _EPOCH
    if since_epoch.microseconds:
        raise _Invalid(f"has fractional seconds; whole seconds are required (got {_show(value)})")
    epoch = since_epoch.days * 86_400 + since_epoch.seconds
    if not MIN_START_EPOCH <= epoch < END_START_EPOCH:
        raise _Invalid(
            "must be on or after 1970-01-01T00:00:00Z and before 2100-01-01T00:00:00Z "
            f"(got {_show(value)})"
        )
    return epoch


# What Decimal() accepts minus its leniencies (inner spaces, "_", non-ASCII digits, NaN, Infinity).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = {"nan", "snan", "inf", "infinity"}
# Rounding must not depend on the thread's decimal context.
_DECIMAL = Context(prec=40, rounding=ROUND_HALF_EVEN)
_MICRO_QUANTUM = Decimal(1).scaleb(-6)
_UNIT_QUANTUM = Decimal(1)


def _number(value: object) -> int | Decimal:
    """The finite number the value holds, exactly."""
    if type(value) is int:
        return value
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise _Invalid("is required")
        if not _NUMBER.fullmatch(text):
            if text.lstrip("+-").lower() in _NON_FINITE:
                raise _Invalid(f"must be a finite number (got {_show(value)})")
            raise _Invalid(f"must be a number (got {_show(value)})")
        number = Decimal(text)
    else:
        raise _Invalid(f"must be a number (got {_show(value)})")
    if not number.is_finite():
        raise _Invalid(f"must be a finite number (got {_show(value)})")
    return number


def _amount(value: object, limit: int, limit_text: str) -> int | Decimal:
    number = _number(value)
    if number < 0:
        raise _Invalid(f"must not be negative (got {_show(value)})")
    if number > limit:
        raise _Invalid(
            f"must be at most {limit_text} (got {_show(value)}); larger values are refused so "
            "that totals stay exact"
        )
    return number


_MAX_MICRO = MAX_UNITS * MICRO


def _micro(value: object) -> int:
    """GPUs or cores in millionths, rounded half to even."""
    if type(value) is str and value.isascii():
        # Fast path for plain decimals of at most six places, which need no rounding.
        whole, _, fraction = value.partition(".")
        if len(fraction) <= 6 and len(whole) <= 7 and (whole + fraction).isdigit():
            micro = int(whole + fraction.ljust(6, "0"))
            if micro <= _MAX_MICRO:
                return micro
    number = _amount(value, MAX_UNITS, f"{MAX_UNITS:,}")
    if type(number) is int:
        return number * MICRO
    return int(number.quantize(_MICRO_QUANTUM, context=_DECIMAL).scaleb(6, context=_DECIMAL))


def _bytes(value: object) -> int:
    """Memory in whole bytes, rounded half to even."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 16:
        number = int(value)
        if number <= MAX_BYTES:
            return number
    number = _amount(value, MAX_BYTES, f"{MAX_BYTES:,} bytes (1 PB)")
    if type(number) is int:
        return number
    return int(number.quantize(_UNIT_QUANTUM, context=_DECIMAL))


def _duration(value: object) -> int:
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 6:
        number = int(value)
    else:
        number = _number(value)
    if not 1 <= number <= MAX_DURATION_SECONDS:
        raise _Invalid(f"must be from 1 to {MAX_DURATION_SECONDS:,} seconds (got {_show(value)})")
    if type(number) is not int:
        if number != number.to_integral_value():
            raise _Invalid(f"must be a whole number of seconds (got {_show(value)})")
        number = int(number)
    return number


# A usage file's fields (spec 3.1), in order, each with the check that turns its value into the
# SampleRow field at the same place.
_CONVERTERS: dict[str, Callable[[object], object]] = {
    "cluster_id": _cluster_id,
    "cluster": _name,
    "nodepool": _nodepool,
    "department": _name,
    "project": _name,
    "workload": _name,
    "start": _start,
    "duration_seconds": _duration,
    "gpu_allocated": _micro,
    "gpu_idle": _micro,
    "cpu_allocated_cores": _micro,
    "cpu_used_cores": _micro,
    "memory_allocated_bytes": _bytes,
    "memory_used_bytes": _bytes,
}
FIELDS: tuple[str, ...] = tuple(_CONVERTERS)


class RowConverter:
    """Turns the raw values of one line, in FIELDS order, into a SampleRow or its errors."""

    def __init__(self, *, text_only: bool) -> None:
        # A JSON value may be true, which equals 1: unless every value is text (as in a CSV file),
        # the caches keep types apart, which costs a little on every look-up.
        self.cached = tuple(
            lru_cache(
                _NAME_CACHE_SIZE if convert in (_name, _nodepool) else _CACHE_SIZE,
                typed=not text_only,
            )(convert)
            for convert in _CONVERTERS.values()
        )

    def convert(self, line: int, raw: tuple[object, ...]) -> SampleRow | list[RowError]:
        # The fast path, for a valid line: no error bookkeeping, and one look-up per field, but
        # for the usage amounts (gpu_idle, cpu_used_cores, memory_used_bytes): they seldom
        # repeat, and converting them costs less than missing the cache.
        c = self.cached
        try:
            row = SampleRow(
                line,
                c[0](raw[0]),
                c[1](raw[1]),
                c[2](raw[2]),
                c[3](raw[3]),
                c[4](raw[4]),
                c[5](raw[5]),
                c[6](raw[6]),
                c[7](raw[7]),
                c[8](raw[8]),
                _micro(raw[9]),
                c[10](raw[10]),
                _micro(raw[11]),
                c[12](raw[12]),
                _bytes(raw[13]),
            )
        except (_Invalid, TypeError):  # TypeError: an unhashable JSON value (a list, an object)
            return self._convert_carefully(line, raw)
        if row.gpu_idle_micro > row.gpu_allocated_micro:
            return self._convert_carefully(line, raw)
        return row

    def _convert_carefully(self, line: int, raw: tuple[object, ...]) -> SampleRow | list[RowError]:
        """The slow path: every field checked on its own, one RowError per bad field."""
        errors = []
        values = {}
        for (field, convert), value in zip(_CONVERTERS.items(), raw, strict=True):
            try:
                values[field] = convert(value)
            except _Invalid as invalid:
                errors.append(RowError(line, field, str(invalid)))
        idle, allocated = values.get("gpu_idle"), values.get("gpu_allocated")
        if idle is not None and allocated is not None and idle > allocated:
            errors.append(
                RowError(
                    line,
                    "gpu_idle",
                    f"must not exceed gpu_allocated ({_units(idle)} > {_units(allocated)})",
                )
            )
            errors.sort(key=lambda error: FIELDS.index(error.field))
        if errors:
            return errors
        return SampleRow(line, *values.values())


def _units(micro: int) -> str:
    """Millionths as a plain decimal: 1500000 -> "1.5"."""
    whole, fraction = divmod(micro, MICRO)
    return f"{whole}.{fraction:06d}".rstrip("0").rstrip(".")
