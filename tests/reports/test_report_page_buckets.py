"""A report with time buckets on its page: a Period start column, the largest segments summed over
the buckets, a line chart with a point per bucket read from the file, and the bucket and time zone
among the report's fields. Reports are built as a worker builds them; the expected numbers come
from a brute force over the samples' seconds in each local day or week."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from consumption.models import UsageRollup, UsageSample
from reports.services import create_report
from reports.tasks import build_report
from tests.consumption.samples import sample, save_samples
from tests.reports.conftest import MARCH
from tests.reports.test_report_rows import rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


class Use(NamedTuple):
    project: str
    start: str
    seconds: int
    gpu: str
    idle: str = "0"


# Kolkata is UTC+5:30: its days begin at 18:30 UTC the day before.
KOLKATA_USES = [
    # Half an hour on local 10 March, half an hour on local 11 March.
    Use("vision", "2026-03-10T18:00Z", 3600, "2"),
    # 15:30 on local 12 March to 15:30 on the 13th: two days, half of it idle.
    Use("nlp", "2026-03-12T10:00Z", 86400, "1", "0.5"),
    Use("llm", "2026-03-10T00:00Z", 3600, "8"),
    Use("infra", "2026-03-11T12:00Z", 3600, "0"),
]
# New York changes its clocks on 8 March 2026; its weeks begin on Mondays.
NEW_YORK_USES = [
    Use("vision", "2026-03-03T12:00Z", 3600, "1"),
    Use("vision", "2026-03-17T12:00Z", 3600, "3"),
    Use("llm", "2026-03-03T12:00Z", 3600, "2"),
    # Across local midnight of Monday 16 March (04:00 UTC): one hour in each week.
    Use("llm", "2026-03-16T03:00Z", 7200, "4"),
]


def local_buckets(zone: str, days: int) -> list[tuple[date, datetime, datetime]]:
    """March's buckets of `days` local days (a week begins on a Monday), each named by its first
    day and cut to the period."""
    tz = ZoneInfo(zone)
    label = MARCH[0].astimezone(tz).date()
    if days == 7:
        label -= timedelta(days=label.weekday())
    found = []
    while (start := datetime.combine(label, time(), tz)) < MARCH[1]:
        end = datetime.combine(label + timedelta(days=days), time(), tz)
        found.append((label, max(start, MARCH[0]), min(end, MARCH[1])))
        label += timedelta(days=days)
    return found


def brute_force(org, uses: list[Use], buckets) -> dict[tuple[date, tuple], list[Decimal]]:
    """(bucket, segment) for every bucket a sample overlaps: [GPU allocation, idle hours]."""
    found: dict[tuple[date, tuple], list[Decimal]] = {}
    for use in uses:
        project = org[use.project]
        names = (project.cluster.name, project.department.name, project.name)
        begins = datetime.fromisoformat(use.start)
        ends = begins + timedelta(seconds=use.seconds)
        for label, start, end in buckets:
            seconds = (min(ends, end) - max(begins, start)).total_seconds()
            if seconds > 0:
                hours = found.setdefault((label, names), [Decimal(0), Decimal(0)])
                hours[0] += Decimal(use.gpu) * Decimal(seconds) / 3600
                hours[1] += Decimal(use.idle) * Decimal(seconds) / 3600
    return found


def save(org, uses: list[Use]) -> None:
    save_samples(
        *(
            sample(org[u.project], u.start, u.seconds, gpu=u.gpu, idle=u.idle, workload=f"w{n}")
            for n, u in enumerate(uses)
        )
    )


def built(subject, **fields):
    report = create_report(subject, name="Buckets", start=MARCH[0], end=MARCH[1], **fields)
    build_report(str(report.pk))
    report.refresh_from_db()
    assert report.is_ready
    return report


def text(value: Decimal) -> str:
    return f"{value:,.2f}"


def totals_of(expected) -> dict[tuple, list[Decimal]]:
    """Each segment's hours summed over the buckets."""
    totals: dict[tuple, list[Decimal]] = {}
    for (_, names), (gpu, idle) in expected.items():
        summed = totals.setdefault(names, [Decimal(0), Decimal(0)])
        summed[0] += gpu
        summed[1] += idle
    return totals


@pytest.fixture
def kolkata(viewer, org):
    save(org, KOLKATA_USES)
    report = built(viewer, bucket="Day", time_zone="Asia/Kolkata")
    return report, brute_force(org, KOLKATA_USES, local_buckets("Asia/Kolkata", 1))


class TestRowsPerDay:
    def test_each_row_has_its_period_start_and_the_totals_sum_every_bucket(
        self, client, viewer, kolkata
    ):
        report, expected = kolkata
        client.force_login(viewer)
        head, body, foot = rows_of(client, report)
        assert head[:5] == [
            "Period start",
            "Cluster",
            "Department",
            "Project",
            "GPU allocation hours",
        ]
        assert [row[:6] for row in body] == [
            [label.isoformat(), *names, text(gpu), text(idle)]
            for (label, names), (gpu, idle) in sorted(expected.items())
        ]
        assert foot[:4] == ["Total", "", "", ""]
        assert foot[4] == text(sum(gpu for gpu, _ in expected.values()))
        assert foot[5] == text(sum(idle for _, idle in expected.values()))

    def test_the_period_start_sorts_by_date(self, client, viewer, kolkata):
        report, expected = kolkata
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
        assert '<th scope="col" class="nowrap"><a href="?sort=0">Period start</a></th>' in html
        labels = sorted(label.isoformat() for label, _ in expected)
        _, ascending, _ = rows_of(client, report, sort="0")
        _, descending, _ = rows_of(client, report, sort="-0")
        assert [row[0] for row in ascending] == labels
        assert [row[0] for row in descending] == labels[::-1]

    def test_the_largest_segments_are_summed_over_the_buckets(self, client, viewer, kolkata):
        report, expected = kolkata
        totals = totals_of(expected)
        largest = sorted(totals, key=lambda names: totals[names][0], reverse=True)
        assert len({totals[names][0] for names in largest}) == len(largest)  # no ties
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        bars = [(bar.label, bar.text) for bar in response.context["chart"]]
        assert bars == [
            (
                " / ".join(names),
                f"{text(totals[names][0])} h, "
                + (f"{totals[names][1] / totals[names][0]:.1%}" if totals[names][0] else "–")
                + " idle",
            )
            for names in largest
        ]

    def test_the_line_chart_has_a_point_per_local_day_read_from_the_file(
        self, client, viewer, kolkata
    ):
        report, expected = kolkata
        totals = totals_of(expected)
        largest = sorted(totals, key=lambda names: totals[names][0], reverse=True)
        days = sorted({label for label, _ in expected})
        every_day = [days[0] + timedelta(days=n) for n in range((days[-1] - days[0]).days + 1)]
        table = [
            (day, [text(expected.get((day, names), [Decimal(0)])[0]) for names in largest])
            for day in every_day
        ]
        # The usage is gone: what the page charts can only come from the report's file.
        UsageSample.objects.all().delete()
        UsageRollup.objects.all().delete()
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        chart = response.context["line_chart"]
        assert [line.label for line in chart.lines] == [" / ".join(n) for n in largest]
        assert chart.table == table
        html = response.content.decode()
        assert "GPU allocation hours per day, largest projects" in html
        assert '<th scope="col">Period start (Asia/Kolkata)</th>' in html
        assert html.count('<polyline class="line line-') == len(largest)

    def test_the_fields_say_the_bucket_and_the_time_zone(self, client, viewer, kolkata):
        report, _ = kolkata
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
        assert "<dt>Rows per</dt><dd>Day</dd><dt>Time zone</dt><dd>Asia/Kolkata</dd>" in html

    def test_a_report_without_buckets_says_neither(self, client, viewer, kolkata):
        report = create_report(viewer, name="Whole", start=MARCH[0], end=MARCH[1])
        build_report(str(report.pk))
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
        assert "Rows per" not in html and "Time zone" not in html
        assert "Period start" not in html


class TestRowsPerWeek:
    def test_a_point_per_week_a_week_without_usage_included(self, client, viewer, org):
        save(org, NEW_YORK_USES)
        report = built(viewer, bucket="Week", time_zone="America/New_York")
        expected = brute_force(org, NEW_YORK_USES, local_buckets("America/New_York", 7))
        mondays = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
        assert {label for label, _ in expected} == {mondays[0], mondays[1], mondays[2]}
        totals = totals_of(expected)
        largest = sorted(totals, key=lambda names: totals[names][0], reverse=True)
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        chart = response.context["line_chart"]
        assert chart.points == mondays
        assert chart.table == [
            (monday, [text(expected.get((monday, n), [Decimal(0)])[0]) for n in largest])
            for monday in mondays
        ]
        html = response.content.decode()
        assert "GPU allocation hours per week" in html
        assert "Period start (America/New_York)" in html
        # Each segment is one bar, however many weeks it has rows in.
        assert [bar.label for bar in response.context["chart"]] == [
            " / ".join(names) for names in largest
        ]

    def test_a_quiet_week_between_two_busy_ones_is_a_point_at_zero(self, client, viewer, org):
        uses = [Use("vision", "2026-03-03T12:00Z", 3600, "1"), NEW_YORK_USES[1]]
        save(org, uses)
        report = built(viewer, bucket="Week", time_zone="America/New_York")
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        # One hour on one GPU, then none, then one hour on three.
        assert response.context["line_chart"].table == [
            (date(2026, 3, 2), ["1.00"]),
            (date(2026, 3, 9), ["0.00"]),
            (date(2026, 3, 16), ["3.00"]),
        ]

    def test_a_single_bucket_has_no_line_chart(self, client, viewer, org):
        save(org, NEW_YORK_USES)
        report = built(viewer, bucket="Month", time_zone="UTC")
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        assert response.context["line_chart"] is None
        assert response.context["chart"]
        assert "GPU allocation hours per" not in response.content.decode()
