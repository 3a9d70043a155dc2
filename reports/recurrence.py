"""A report schedule's recurrence: the periods it covers, when each period's report is due, and
what the period is called. Pure: dates and time zones only.

A recurrence cuts the local time of an IANA zone into periods that follow one another without
gaps or overlaps:

- **daily**: each local day;
- **weekly**: seven days from a chosen weekday (from Monday: the ISO week);
- **monthly**: from a chosen day of the month to the same day of the next month (a fiscal month,
  when the day is not the 1st). A day past a month's end means that month's last day: a month
  "on the 31st" runs from 31 January to 27 February, then from 28 February (29th in a leap year)
  to 30 March, then from 31 March;
- **quarterly**: calendar quarters, from 1 January, 1 April, 1 July and 1 October. (A fiscal
  year that starts in another month would call for labels other than "Q1".."Q4"; not offered.)

A period is [start, end) in UTC, its edges the local midnights that begin its first day and the
day after its last, so that a day of a clock change lasts 23 or 25 hours. A period's report is
due at the recurrence's local time on the day after the period's last day (the first day of the
next period). A local time that happens twice on a day the clocks go back is its first
occurrence; one that a clock change skips is read with the offset from before the change (02:30
on a day whose clocks jump from 02:00 to 03:00 is 03:30), so that the day starts when the clocks
jump where midnight is skipped.
"""

from __future__ import annotations

import calendar
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import takewhile

from django.db import models

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Between a period's first and last day, in a label.
DAYS_SEPARATOR = " – "


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


@dataclass(frozen=True)
class Period:
    """One period of a recurrence: its local days, its moments in UTC, and its label."""

    first_day: date
    last_day: date
    start: datetime  # the local midnight that begins first_day (UTC, included)
    end: datetime  # the local midnight after last_day (UTC, excluded)
    due: datetime  # when its report is to be made (UTC)
    label: str  # what `{period}` in a report's name becomes


@dataclass(frozen=True)
class Recurrence:
    """Periods of `frequency` in `time_zone`, each due at `run_at` (local) on the day after it.
    `weekday` (0 Monday to 6 Sunday) is a weekly recurrence's first day of the week;
    `day_of_month` (1 to 31) a monthly one's first day of the month. ValueError for a
    combination that makes no recurrence."""

    frequency: str
    time_zone: str = "UTC"
    run_at: time = time(0)
    weekday: int | None = None
    day_of_month: int | None = None

    def __post_init__(self) -> None:
        Frequency(self.frequency)  # ValueError if it is none of them
        if self.frequency == Frequency.WEEKLY and self.weekday not in range(7):
            raise ValueError("A weekly recurrence needs a weekday, 0 (Monday) to 6 (Sunday).")
        if self.frequency == Frequency.MONTHLY and self.day_of_month not in range(1, 32):
            raise ValueError("A monthly recurrence needs a day of the month, 1 to 31.")
        if self.run_at.tzinfo is not None:
            raise ValueError("The time of day is local: give it without a time zone.")
        _zone(self.time_zone)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return _zone(self.time_zone)

    @property
    def in_words(self) -> str:
        """`Daily`, `Weekly from Monday`, `Monthly from the 26th` or `Quarterly`, then when:
        `at 06:00 Europe/Paris`."""
        when = f"at {self.run_at:%H:%M} {self.time_zone}"
        if self.frequency == Frequency.WEEKLY:
            return f"Weekly from {WEEKDAYS[self.weekday]}, {when}"
        if self.frequency == Frequency.MONTHLY:
            return f"Monthly from the {_ordinal(self.day_of_month)}, {when}"
        return f"{Frequency(self.frequency).label}, {when}"

    # Periods

    def period_containing(self, moment: datetime) -> Period:
        """The period that `moment` (an aware datetime) falls in."""
        if moment.tzinfo is None:
            raise ValueError("Give the moment with its time zone.")
        period = self._period(self._first_day_of_period_with(moment.astimezone(self.zone).date()))
        # The local date decides, except where the clocks go back over midnight.
        while moment < period.start:
            period = self.period_before(period)
        while moment >= period.end:
            period = self.period_after(period)
        return period

    def period_before(self, period: Period) -> Period:
        return self._period(self._first_day_of_period_with(period.first_day - timedelta(days=1)))

    def period_after(self, period: Period) -> Period:
        return self._period(period.last_day + timedelta(days=1))

    def last_complete_period(self, now: datetime) -> Period:
        """The latest period that has ended by `now` (its report may not be due yet)."""
        return self.period_before(self.period_containing(now))

    def periods_due_after(self, moment: datetime) -> Iterator[Period]:
        """The periods whose reports are due after `moment`, soonest first, without end."""
        period = self.period_containing(moment)  # due after its end, so after `moment`
        while (earlier := self.period_before(period)).due > moment:
            period = earlier
        while True:
            yield period
            period = self.period_after(period)

    def due_periods(self, since: datetime, until: datetime) -> list[Period]:
        """The periods whose reports fell due after `since` and by `until`, oldest first."""
        return list(takewhile(lambda p: p.due <= until, self.periods_due_after(since)))

    # Local days

    def _period(self, first_day: date) -> Period:
        following = self._first_day_of_next_period(first_day)
        last_day = following - timedelta(days=1)
        return Period(
            first_day=first_day,
            last_day=last_day,
            start=self._moment(first_day, time(0)),
            end=self._moment(following, time(0)),
            due=self._moment(following, self.run_at),
            label=self._label(first_day, last_day),
        )

    def _moment(self, day: date, at: time) -> datetime:
        """The UTC moment of local time `at` on `day` (fold 0: see the module's docstring)."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _first_day_of_period_with(self, day: date) -> date:
        if self.frequency == Frequency.DAILY:
            return day
        if self.frequency == Frequency.WEEKLY:
            return day - timedelta(days=(day.weekday() - self.weekday) % 7)
        if self.frequency == Frequency.MONTHLY:
            this_month = self._month_start(day.year, day.month)
            return this_month if day >= this_month else self._month_start(*_months_on(day, -1))
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)

    def _first_day_of_next_period(self, first_day: date) -> date:
        if self.frequency == Frequency.DAILY:
            return first_day + timedelta(days=1)
        if self.frequency == Frequency.WEEKLY:
            return first_day + timedelta(days=7)
        if self.frequency == Frequency.MONTHLY:
            # A month's first day is in its own month, even when cut short to the month's end.
            return self._month_start(*_months_on(first_day, 1))
        return date(*_months_on(first_day, 3), 1)

    def _month_start(self, year: int, month: int) -> date:
        """A monthly period's first day in this month: day_of_month, or the month's last day."""
        return date(year, month, min(self.day_of_month, calendar.monthrange(year, month)[1]))

    def _label(self, first_day: date, last_day: date) -> str:
        """`2026-11-30` (daily), `2026-W48` (weekly from Monday), `2026-11` (monthly from the
        1st), `2026-Q3` (quarterly); other weeks and months by their first and last days:
        `2026-10-26 – 2026-11-25`."""
        if self.frequency == Frequency.DAILY:
            return first_day.isoformat()
        if self.frequency == Frequency.WEEKLY and self.weekday == 0:
            year, week, _ = first_day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.frequency == Frequency.MONTHLY and self.day_of_month == 1:
            return f"{first_day:%Y-%m}"
        if self.frequency == Frequency.QUARTERLY:
            return f"{first_day.year}-Q{(first_day.month - 1) // 3 + 1}"
        return f"{first_day.isoformat()}{DAYS_SEPARATOR}{last_day.isoformat()}"


def _zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone of this name (ZoneInfo keeps each one it made); ValueError if none."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown time zone {name!r}.") from None


def _months_on(day: date, months: int) -> tuple[int, int]:
    """The year and month `months` after (or before) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, 31st."""
    suffix = "th" if 11 <= number <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
