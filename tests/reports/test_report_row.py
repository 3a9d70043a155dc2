"""A row of the table asks for itself again while its report is being built."""

import lxml.html
import pytest
from django.test import RequestFactory
from django.urls import reverse

from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tables import ReportTable, save_columns
from reports.tasks import build_report
from tests.factories import grant
from tests.reports.conftest import MARCH, ready_report

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]


@pytest.fixture
def pending(viewer, usage):
    return create_report(viewer, name="March", start=MARCH[0], end=MARCH[1])


def row_url(report) -> str:
    return reverse("reports:report_row", args=[report.pk])


class TestReportRow:
    def test_a_pending_row_polls_itself(self, client, viewer, pending):
        client.force_login(viewer)
        html = client.get(row_url(pending)).content.decode()
        assert html.lstrip().startswith(f'<tr id="report-{pending.pk}" data-status="Pending"')
        assert f'hx-get="{row_url(pending)}" hx-trigger="every 2s" hx-swap="outerHTML"' in html

    def test_the_table_polls_only_unsettled_rows(self, client, viewer, pending):
        ready = create_report(viewer, name="Done", start=MARCH[0], end=MARCH[1])
        build_report(str(ready.pk))
        client.force_login(viewer)
        html = client.get(reverse("reports:report_list")).content.decode()
        assert f'hx-get="{row_url(pending)}"' in html
        assert f'hx-get="{row_url(ready)}"' not in html

    def test_once_settled_the_row_stops_polling(self, client, viewer, pending):
        build_report(str(pending.pk))
        client.force_login(viewer)
        html = client.get(row_url(pending)).content.decode()
        assert 'data-status="Ready"' in html
        assert "hx-trigger" not in html

    def test_a_failed_row_shows_its_message_and_stops(self, client, viewer, pending):
        Report.objects.filter(pk=pending.pk).update(
            status=ReportStatus.FAILED, status_message="No usage data could be read."
        )
        client.force_login(viewer)
        html = client.get(row_url(pending)).content.decode()
        assert "No usage data could be read." in html
        assert "hx-trigger" not in html

    def test_the_row_has_the_users_columns_and_keeps_its_checkbox(self, client, viewer, pending):
        client.force_login(viewer)
        client.post(reverse("reports:report_columns"), {"columns": ["status", "group_by"]})
        html = client.get(row_url(pending)).content.decode()
        assert html.count("<td") == 3  # checkbox, status, segment by (the name is a <th>)
        assert f'id="select-{pending.pk}"' in html and "hx-preserve" in html

    def test_another_tenants_report_is_not_found(self, client, charlie, pending):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        assert client.get(row_url(pending)).status_code == 404

    def test_a_report_the_user_may_not_see_is_not_found(self, client, researcher, pending):
        client.force_login(researcher)
        assert client.get(row_url(pending)).status_code == 404

    def test_texts_are_written_as_text_in_cells_and_titles(self, client, viewer, usage):
        name = 'GPU <b>"Q&A"</b>'
        description = "<script>alert('x')</script> & \"more\""
        report = create_report(
            viewer, name=name, description=description, start=MARCH[0], end=MARCH[1]
        )
        client.force_login(viewer)
        for url in (reverse("reports:report_list"), row_url(report)):
            tree = lxml.html.fromstring(client.get(url).content)
            [row] = tree.xpath(f'//tr[@id="report-{report.pk}"]')
            assert row.get("data-name") == name
            [name_cell] = row.xpath("./th")
            assert (name_cell.get("title"), name_cell.text_content()) == (name, name)
            assert not row.xpath(".//b | .//script")
            description_cell = row.xpath("./td")[1]  # after the checkbox
            assert description_cell.get("title") == description
            assert description_cell.text_content() == description


class TestCells:
    """The table draws its cells itself (ReportTable.cells), faster than django-tables2's
    BoundRow; they must be the cells BoundRow gives, in every column."""

    def test_every_column_of_every_kind_of_report_is_drawn_as_django_tables2_draws_it(
        self, viewer, usage
    ):
        reports = [
            ready_report(viewer, "Plain"),
            ready_report(
                viewer,
                "Daily, in Kolkata, with a filter",
                description="Described",
                bucket="Day",
                time_zone="Asia/Kolkata",
                group_by="Department",
                filter_by=["projectName==vision"],
            ),
            create_report(
                viewer, name="Failed, with costs", start=MARCH[0], end=MARCH[1], costs=True
            ),
            create_report(viewer, name="Pending", start=MARCH[0], end=MARCH[1]),
        ]
        Report.objects.filter(pk=reports[2].pk).update(
            status=ReportStatus.FAILED, status_message="No usage data could be read."
        )
        every_column = [name for name, _ in ReportTable.optional_columns()]
        save_columns(viewer, ReportTable, every_column)
        table = ReportTable(Report.objects.order_by("name"))
        request = RequestFactory().get("/")
        request.user = viewer
        table.configure(request)
        assert [column.name for column in table.columns] == ["selection", "name", *every_column]
        assert len(table.rows) == 4
        for row in table.rows:
            ours = [(column.name, str(cell)) for column, cell in table.cells(row.record)]
            theirs = [(column.name, str(cell)) for column, cell in row.items()]
            assert ours == theirs
