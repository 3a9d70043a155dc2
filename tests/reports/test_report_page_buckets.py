"""A report with time buckets on its page: a Period start column, and the largest segments summed
over the buckets. Reports are built as a worker builds them; the expected numbers come
from a brute force over the samples' seconds in each local day or week."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

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

    def test_a_report_without_buckets_has_no_period_start(self, client, viewer, kolkata):
        report = create_report(viewer, name="Whole", start=MARCH[0], end=MARCH[1])
        build_report(str(report.pk))
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[report.pk])).content.decode()
        assert "Period start" not in html
