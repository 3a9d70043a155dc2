"""A report's GPU allocation hours over time, for its largest segments, as a plain SVG line chart
(drawn here, styled by the site's CSS: no script, no inline style) with the same numbers as a
table: a point per UTC day, read from the daily rollups, or per bucket of a report with buckets,
read from its file (its buckets are days, weeks or months of its time zone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar

from .models import Report
from .reading import hours_text

WIDTH, HEIGHT = 600, 200
LINES = 5  # the segments drawn, the largest first

SegmentHours = dict[tuple[str, ...], dict[date, Decimal]]  # each segment's hours at its points


@dataclass(frozen=True)
class Line:
    label: str
    points: str  # an SVG polyline's points, in the chart's coordinates


@dataclass(frozen=True)
class LineChart:
    width: ClassVar[int] = WIDTH
    height: ClassVar[int] = HEIGHT
    per: str  # what a point is: "day", "week" or "month"
    heading: str  # the table's heading of the points, such as "Day (UTC)"
    lines: list[Line]
    points: list[date]
    # The table behind the chart: a point, then each line's hours there.
    table: list[tuple[date, list[str]]]
    largest: str  # the top of the vertical scale, in hours


def daily_chart(daily: SegmentHours, segments: list[tuple[str, ...]]) -> LineChart | None:
    """The chart of these segments' hours per UTC day (`daily`, from the rollups): a point for
    every day, a day without usage included."""
    used = [day for hours in daily.values() for day in hours]
    days = _every_day(min(used), max(used)) if used else []
    return line_chart(daily, segments, days, per="day", heading="Day (UTC)")


def bucket_chart(
    periods: SegmentHours, segments: list[tuple[str, ...]], report: Report
) -> LineChart | None:
    """The chart of these segments' hours in the report's buckets (`periods`, from its file):
    a point for every bucket, named by its first day, one without usage included."""
    return line_chart(
        periods,
        segments,
        report.period_starts,
        per=report.bucket.lower(),
        heading=f"Period start ({report.time_zone})",
    )


def line_chart(
    hours: SegmentHours,
    segments: list[tuple[str, ...]],
    dates: list[date],
    *,
    per: str,
    heading: str,
) -> LineChart | None:
    """The chart of these segments (in this order, at most LINES) at the `dates` (the points it
    may have, in order) from the first to the last where any of them has usage, a segment
    without usage at a point at 0 there; None when that is less than two points (the largest
    segments' bars say it all)."""
    drawn = [segment for segment in segments if segment in hours][:LINES]
    used = {point for segment in drawn for point in hours[segment]}
    if not used:
        return None
    first, last = min(used), max(used)
    points = [point for point in dates if first <= point <= last]
    if len(points) < 2:
        return None
    values = {segment: [hours[segment].get(p, Decimal(0)) for p in points] for segment in drawn}
    largest = max((v for series in values.values() for v in series), default=Decimal(0))
    scale = largest or Decimal(1)
    step = WIDTH / (len(points) - 1)
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
    table = [(point, [hours_text(values[s][n]) for s in drawn]) for n, point in enumerate(points)]
    return LineChart(per, heading, lines, points, table, hours_text(largest))


def _every_day(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
