"""A report's GPU hours per day, for its largest segments, as a plain SVG line chart (drawn
here, styled by the site's CSS: no script, no inline style) with the same numbers as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from .reading import hours_text

WIDTH, HEIGHT = 600, 200
LINES = 5  # the segments drawn, the largest first


@dataclass(frozen=True)
class Line:
    label: str
    points: str  # an SVG polyline's points, in the chart's coordinates


@dataclass(frozen=True)
class DailyChart:
    width: ClassVar[int] = WIDTH
    height: ClassVar[int] = HEIGHT
    lines: list[Line]
    days: list[date]
    # The table behind the chart: a day, then each line's hours that day.
    table: list[tuple[date, list[str]]]
    largest: str  # the top of the vertical scale, in hours


def daily_chart(
    daily: dict[tuple[str, ...], dict[date, Decimal]], segments: list[tuple[str, ...]]
) -> DailyChart | None:
    """The chart of these segments (in this order, at most LINES) over every day that has
    usage of any of them, the days between included; None when that is less than two days
    (the largest segments' bars say it all)."""
    drawn = [segment for segment in segments if segment in daily][:LINES]
    used = [day for segment in drawn for day in daily[segment]]
    if len(set(used)) < 2:
        return None
    first, last = min(used), max(used)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    values = {segment: [daily[segment].get(day, Decimal(0)) for day in days] for segment in drawn}
    largest = max((v for series in values.values() for v in series), default=Decimal(0))
    scale = largest or Decimal(1)
    step = WIDTH / (len(days) - 1)
    lines = [
        Line(
            " / ".join(segment),
            " ".join(
                f"{n * step:.1f},{HEIGHT - float(value / scale) * (HEIGHT - 10):.1f}"
                for n, value in enumerate(values[segment])
            ),
        )
        for segment in drawn
    ]
    table = [(day, [hours_text(values[s][n]) for s in drawn]) for n, day in enumerate(days)]
    return DailyChart(lines, days, table, hours_text(largest))
