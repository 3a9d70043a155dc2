"""Across the analysts' pages: every state change needs POST with a CSRF token, and no GET
changes anything."""

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Report, TableColumns
from tests.reports.conftest import ready_report

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]


@pytest.fixture
def report(viewer, usage):
    return ready_report(viewer, "March")


def state_changes(report) -> list[tuple[str, dict]]:
    """Every page action that writes, with data that would succeed."""
    return [
        (
            reverse("reports:report_create"),
            {
                "name": "April",
                "start_date": "2026-03-01",
                "end_date": "2026-03-31",
                "group_by": "Project",
            },
        ),
        (reverse("reports:report_columns"), {"columns": ["status"]}),
        (reverse("reports:report_delete"), {"ids": [report.pk], "confirm": "1"}),
    ]


def snapshot() -> tuple:
    return (
        sorted(Report.objects.values_list("pk", "name", "status")),
        sorted(TableColumns.objects.values_list("user_id", "columns")),
    )


class TestSafety:
    def test_every_state_change_needs_a_csrf_token(self, viewer, report):
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        before = snapshot()
        for url, data in state_changes(report):
            assert client.post(url, data).status_code == 403, url
        assert snapshot() == before

    def test_the_same_requests_succeed_with_the_token(self, viewer, report):
        # So that the test above fails for the right reason.
        client = Client()
        client.force_login(viewer)
        for url, data in state_changes(report):
            assert client.post(url, data).status_code == 302, url
        assert Report.objects.filter(name="April").exists()
        assert not Report.objects.filter(pk=report.pk).exists()
        assert TableColumns.objects.filter(user=viewer).exists()

    def test_no_get_changes_anything(self, client, viewer, report):
        client.force_login(viewer)
        before = snapshot()
        for url, data in state_changes(report):
            client.get(url, data)
        for url in [
            reverse("reports:report_list"),
            reverse("reports:report_detail", args=[report.pk]),
            reverse("reports:report_row", args=[report.pk]),
            reverse("reports:report_download", args=[report.pk]),
            reverse("reports:report_download_selected"),
        ]:
            client.get(url, {"ids": [report.pk], "confirm": "1", "columns": ["status"]})
        assert snapshot() == before

    def test_logging_out_needs_post(self, client, viewer):
        client.force_login(viewer)
        assert client.get(reverse("logout")).status_code == 405
        assert client.get(reverse("reports:report_list")).status_code == 200
