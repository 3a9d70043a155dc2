"""A Ready report's page shows all its rows, read from its stored file: each measure readable
(thousands separators, two decimals, memory in GiB-hours), the GPU idle share, the totals,
sortable by any column, and paged when there are many."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from consumption.aggregation import daily_gpu_hours
from consumption.measures import Segment, grouping_of
from reports.services import create_report
from reports.tasks import build_report
from tests.consumption.samples import sample, save_samples
from tests.reports.conftest import MARCH

GIB = 2**30

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


@pytest.fixture
def big(viewer, org):
    """A day of a large cluster, in four projects: GPU-hours in the thousands."""
    save_samples(
        sample(org["vision"], "2026-03-10T00:00Z", 86400, gpu=1000, idle=250, memory=3 * GIB),
        sample(org["nlp"], "2026-03-10T00:00Z", 86400, gpu=64, idle=0, cpu=16, cpu_used=8),
        sample(org["infra"], "2026-03-10T00:00Z", 3600, gpu=0, cpu=2),
        sample(org["llm"], "2026-03-10T00:00Z", 43200, gpu="0.5", idle="0.5"),
    )
    report = create_report(viewer, name="Big", start=MARCH[0], end=MARCH[1])
    build_report(str(report.pk))
    report.refresh_from_db()
    return report


def rows_of(client, report, **params) -> tuple[list[str], list[list[str]], list[str]]:
    """The table's header, body rows and totals, as text."""
    html = client.get(reverse("reports:report_detail", args=[report.pk]), params).content
    table = html.decode().split('class="table report-rows"')[1].split("</table>")[0]

    def cells(part: str) -> list[list[str]]:
        return [
            [
                re.sub(r"<[^>]+>|[▲▼]", "", cell).strip()
                for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)
            ]
            for tr in re.findall(r"<tr>(.*?)</tr>", part, re.S)
        ]

    head = cells(table.split("<tbody>")[0])[0]
    body = cells(table.split("<tbody>")[1].split("</tbody>")[0])
    foot = cells(table.split("<tfoot>")[1])[0]
    return head, body, foot


class TestAllRows:
    def test_the_measures_read_at_a_glance(self, client, viewer, big):
        client.force_login(viewer)
        head, body, foot = rows_of(client, big)
        assert head == [
            "Cluster",
            "Department",
            "Project",
            "GPU allocation hours",
            "GPU Idle hours",
            "GPU idle share",
            "CPU cores allocation hours",
            "CPU cores usage hours",
            "CPU Memory GiB allocation hours",
            "CPU Memory GiB usage hours",
        ]
        by_project = {row[2]: row[3:] for row in body}
        # vision: 1000 GPUs for 24 h, a quarter idle, 3 GiB for 24 h.
        assert by_project["vision"] == [
            "24,000.00",
            "6,000.00",
            "25.0%",
            "0.00",
            "0.00",
            "72.00",
            "0.00",
        ]
        assert by_project["nlp"] == ["1,536.00", "0.00", "0.0%", "384.00", "192.00", "0.00", "0.00"]
        # Nothing allocated: no share.
        assert by_project["infra"] == ["0.00", "0.00", "–", "2.00", "0.00", "0.00", "0.00"]
        assert by_project["llm"] == ["6.00", "6.00", "100.0%", "0.00", "0.00", "0.00", "0.00"]
        assert foot[0] == "Total"
        assert foot[3:] == ["25,542.00", "6,006.00", "23.5%", "386.00", "192.00", "72.00", "0.00"]

    def test_the_chart_shows_each_segments_idle_part(self, client, viewer, big):
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[big.pk]))
        bars = [
            (bar.label, bar.text, bar.percent, bar.idle_percent)
            for bar in response.context["chart"]
        ]
        assert bars == [
            ("east / research / vision", "24,000.00 h, 25.0% idle", 100.0, 25.0),
            ("east / research / nlp", "1,536.00 h, 0.0% idle", 6.4, 0.0),
            ("west / training / llm", "6.00 h, 100.0% idle", 0.025, 0.025),
            ("east / ops / infra", "0.00 h, – idle", 0.0, 0.0),
        ]
        html = response.content.decode()
        assert '<rect class="bar-idle" x="75.0%" width="25.0%"' in html

    @pytest.mark.parametrize(
        "sort, projects",
        [
            ("3", ["infra", "llm", "nlp", "vision"]),
            ("-3", ["vision", "nlp", "llm", "infra"]),
            ("5", ["infra", "nlp", "vision", "llm"]),
            ("-2", ["vision", "nlp", "llm", "infra"]),
            ("nonsense", ["infra", "nlp", "vision", "llm"]),  # the file's order
            ("99", ["infra", "nlp", "vision", "llm"]),
        ],
    )
    def test_any_column_sorts(self, client, viewer, big, sort, projects):
        client.force_login(viewer)
        _, body, _ = rows_of(client, big, sort=sort)
        assert [row[2] for row in body] == projects

    def test_many_rows_are_paged_and_the_totals_are_the_whole_reports(
        self, client, viewer, big, monkeypatch
    ):
        monkeypatch.setattr("reports.reading.ROWS_PER_PAGE", 3)
        client.force_login(viewer)
        _, first, foot = rows_of(client, big, sort="-3")
        _, second, foot_again = rows_of(client, big, sort="-3", page="2")
        assert [row[2] for row in first] == ["vision", "nlp", "llm"]
        assert [row[2] for row in second] == ["infra"]
        assert foot == foot_again and foot[3] == "25,542.00"
        html = client.get(
            reverse("reports:report_detail", args=[big.pk]), {"sort": "-3"}
        ).content.decode()
        assert 'href="?sort=-3&amp;page=2"' in html

    def test_a_missing_file_leaves_the_first_rows_the_build_kept(self, client, viewer, big):
        big.file.delete(save=False)
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[big.pk])).content.decode()
        assert "report-rows" not in html
        assert "First rows" in html and "<td>vision</td>" in html


class TestGpuHoursPerDay:
    def test_the_largest_segments_day_by_day_from_the_rollups(self, client, viewer, org, big):
        save_samples(sample(org["vision"], "2026-03-12T06:00Z", 7200, gpu=8, workload="later"))
        again = create_report(viewer, name="Again", start=MARCH[0], end=MARCH[1])
        build_report(str(again.pk))
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[again.pk]))
        daily = response.context["daily"]
        assert [line.label for line in daily.lines] == [
            "east / research / vision",
            "east / research / nlp",
            "west / training / llm",
            "east / ops / infra",
        ]
        # The days between the first and the last with usage, a day without any included.
        assert [(str(day), hours) for day, hours in daily.table] == [
            ("2026-03-10", ["24,000.00", "1,536.00", "6.00", "0.00"]),
            ("2026-03-11", ["0.00", "0.00", "0.00", "0.00"]),
            ("2026-03-12", ["16.00", "0.00", "0.00", "0.00"]),
        ]
        html = response.content.decode()
        assert html.count('<polyline class="line line-') == 4
        assert "GPU allocation hours per day" in html

    def test_a_part_of_a_day_at_either_end_is_left_out(self, viewer, org, big):
        start = datetime(2026, 3, 9, 12, tzinfo=UTC)
        daily = daily_gpu_hours(
            tenant=viewer.tenant,
            start=start,
            end=datetime(2026, 3, 10, 12, tzinfo=UTC),
            group_by="Project",
            projects=[org["vision"].pk],
            segments=[("east", "research", "vision")],
        )
        assert daily == {}
        daily = daily_gpu_hours(
            tenant=viewer.tenant,
            start=start,
            end=datetime(2026, 3, 11, 12, tzinfo=UTC),
            group_by="Cluster",
            projects=[org["vision"].pk, org["llm"].pk],
            segments=[("east",), ("west",)],
        )
        assert daily == {
            ("east",): {date(2026, 3, 10): Decimal("24000.0000")},
            ("west",): {date(2026, 3, 10): Decimal("6.0000")},
        }

    def test_only_the_segments_asked_for_are_read(self, viewer, org, big, other_org):
        march = {"tenant": viewer.tenant, "start": MARCH[0], "end": MARCH[1]}
        everything = [org[name].pk for name in ("vision", "nlp", "infra", "llm")]
        daily = daily_gpu_hours(
            **march,
            group_by="Project",
            projects=everything,
            segments=[("west", "training", "llm"), ("east", "research", "nope")],
        )
        assert daily == {("west", "training", "llm"): {date(2026, 3, 10): Decimal("6.0000")}}
        # Units of the same names in another tenant are that tenant's segments, not this one's.
        vision = [("east", "research", "vision")]
        assert grouping_of(Segment.PROJECT).ids_of(viewer.tenant, vision) == [org["vision"].pk]
        assert grouping_of(Segment.PROJECT).ids_of(other_org["east"].tenant, vision) == [
            other_org["vision"].pk
        ]

    def test_usage_on_a_single_day_has_no_daily_chart(self, client, viewer, big):
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[big.pk]))
        assert response.context["daily"] is None
        assert response.context["chart"]

    def test_a_period_of_no_whole_day_has_no_daily_chart(self, client, viewer, usage):
        report = create_report(
            viewer,
            name="Hours",
            start=datetime(2026, 3, 10, 9, tzinfo=UTC),
            end=datetime(2026, 3, 10, 12, tzinfo=UTC),
        )
        build_report(str(report.pk))
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[report.pk]))
        assert response.context["daily"] is None
        assert "per day" not in response.content.decode()
