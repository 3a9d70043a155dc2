"""The Columns chooser: the user's choice is stored in the database and follows them."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import strip_tags

from reports.models import TableColumns
from reports.services import create_report
from reports.tables import ReportTable
from tests.reports.conftest import MARCH

DEFAULT_COLUMNS = ReportTable.Meta.default_columns

COLUMNS = reverse("reports:report_columns")
LIST = reverse("reports:report_list")

pytestmark = pytest.mark.django_db


def headers(client) -> list[str]:
    table = client.get(LIST).context["table"]
    return [column.name for column in table.columns]


class TestReportColumns:
    def test_the_defaults_until_the_user_chooses(self, client, viewer):
        client.force_login(viewer)
        assert headers(client) == ["selection", *DEFAULT_COLUMNS]

    def test_the_choice_is_kept_across_sessions(self, client, viewer):
        client.force_login(viewer)
        response = client.post(
            COLUMNS, {"columns": ["status", "row_count", "file_size"], "next": f"{LIST}?q=x"}
        )
        assert response["Location"] == f"{LIST}?q=x"
        client.logout()

        later = Client()
        later.force_login(viewer)
        assert headers(later) == ["selection", "name", "status", "row_count", "file_size"]
        html = later.get(LIST).content.decode()
        assert '<input type="checkbox" name="columns" value="row_count" checked>' in html
        assert '<input type="checkbox" name="columns" value="description" >' in html

    def test_the_options_of_a_report_as_columns(self, client, viewer, usage):
        create_report(viewer, name="Plain", start=MARCH[0], end=MARCH[1])
        create_report(
            viewer,
            name="Weekly",
            start=MARCH[0],
            end=MARCH[1],
            bucket="Week",
            time_zone="Asia/Kolkata",
            costs=True,
        )
        client.force_login(viewer)
        client.post(COLUMNS, {"columns": ["bucket", "time_zone", "costs"]})
        table = client.get(LIST, {"sort": "name"}).context["table"]
        assert [column.header for column in table.columns][1:] == [
            "Report",
            "Rows per",
            "Time zone",
            "With costs",
        ]
        cells = [[strip_tags(cell) for _, cell in row.items()][1:] for row in table.rows]
        assert cells == [
            ["Plain", "Whole period", "UTC", "No"],
            ["Weekly", "Week", "Asia/Kolkata", "Yes"],
        ]

    def test_it_is_per_user(self, client, viewer, researcher):
        client.force_login(viewer)
        client.post(COLUMNS, {"columns": ["status"]})
        client.force_login(researcher)
        assert headers(client) == ["selection", *DEFAULT_COLUMNS]

    def test_unknown_and_fixed_names_are_dropped(self, client, viewer):
        client.force_login(viewer)
        client.post(COLUMNS, {"columns": ["status", "password", "selection", "name"]})
        assert TableColumns.objects.get(user=viewer).columns == ["status"]
        assert headers(client) == ["selection", "name", "status"]

    def test_reset_goes_back_to_the_defaults(self, client, viewer):
        client.force_login(viewer)
        client.post(COLUMNS, {"columns": ["status"]})
        client.post(COLUMNS, {"reset": "1"})
        assert not TableColumns.objects.filter(user=viewer).exists()
        assert headers(client) == ["selection", *DEFAULT_COLUMNS]

    def test_it_needs_post_and_csrf(self, viewer):
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        assert client.get(COLUMNS, {"columns": ["status"]}).status_code == 405
        assert client.post(COLUMNS, {"columns": ["status"]}).status_code == 403
        assert not TableColumns.objects.exists()

    def test_it_needs_a_login(self, client):
        response = client.post(COLUMNS, {"columns": ["status"]})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
