"""A report's time buckets: rows per Day, Week (ISO, Monday first) or Month of a time zone.

Each bucket is named by its first local day (`Period start`), as SQL's date_trunc names it, and
counts the part of the report's period inside it, in seconds since the epoch. A bucket's edges
are local midnights, which fall at UTC midnight only in zones a whole number of days from UTC:
elsewhere the aggregation reads the split UTC days from the raw samples, so that every bucket
stays exact.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import models

DEFAULT_TIME_ZONE = "UTC"


class Bucket(models.TextChoices):
    """What a report's rows are split by in time (the API's `bucket`); none: the whole period."""

    DAY = "Day"
    WEEK = "Week"
    MONTH = "Month"


@dataclass(frozen=True)
class Span:
    """A part of the period that has rows of its own: [start, end) in seconds since the epoch,
    and the first local day of its bucket (None for the whole period)."""

    label: date | None
    start: int
    end: int


def spans(period_start: int, period_end: int, bucket: str | None, zone: str) -> list[Span]:
    """The buckets of [period_start, period_end), each cut to the period, in order; one span,
    the whole period, without a bucket."""
    if not bucket:
        return [Span(None, period_start, period_end)]
    tz = time_zone(zone)
    kind = Bucket(bucket)
    day = _first_day(datetime.fromtimestamp(period_start, tz).date(), kind)
    found = []
    while True:
        following = _next_first_day(day, kind)
        start = max(_local_midnight(day, tz), period_start)
        end = min(_local_midnight(following, tz), period_end)
        if start < end:
            found.append(Span(day, start, end))
        if end >= period_end:
            return found
        day = following


def time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone of this name; ValidationError naming it if there is none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r}: give an IANA name such as UTC, Europe/Paris or "
            "America/New_York."
        ) from None


def validate_time_zone(name: str) -> None:
    time_zone(name)


def _first_day(day: date, bucket: Bucket) -> date:
    if bucket == Bucket.WEEK:
        return day - timedelta(days=day.weekday())  # Monday
    if bucket == Bucket.MONTH:
        return day.replace(day=1)
    return day


def _next_first_day(day: date, bucket: Bucket) -> date:
    if bucket == Bucket.WEEK:
        return day + timedelta(days=7)
    if bucket == Bucket.MONTH:
        return (day + timedelta(days=32)).replace(day=1)
    return day + timedelta(days=1)


def _local_midnight(day: date, tz: zoneinfo.ZoneInfo) -> int:
    """The moment the local day begins. Where a clock change skips midnight, the day begins
    when the clocks jump (fold 0 reads the skipped time with the offset before the change)."""
    return int(datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC).timestamp())
