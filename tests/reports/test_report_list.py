"""Analytics > Reports: scoped to what the user may see, filtered, searched, sorted, paged."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.models import Report, ReportStatus
from reports.services import create_report
from tests.reports.conftest import MARCH

URL = reverse("reports:report_list")


pytestmark = pytest.mark.usefixtures("no_queue")


@pytest.fixture
def reports(viewer, researcher, usage):
    made = {
        "alpha": create_report(
            viewer, name="Alpha", description="GPU review", start=MARCH[0], end=MARCH[1]
        ),
        "beta": create_report(
            researcher, name="Beta", start=MARCH[0], end=MARCH[1] - timedelta(days=10)
        ),
        "gamma": create_report(
            viewer,
            name="Gamma",
            group_by="Cluster",
            start=MARCH[0] + timedelta(days=5),
            end=MARCH[1],
        ),
    }
    # Distinct creation times and statuses, so that every column sorts differently.
    now = timezone.now()
    for offset, (key, status) in enumerate(
        [
            ("alpha", ReportStatus.READY),
            ("beta", ReportStatus.FAILED),
            ("gamma", ReportStatus.PENDING),
        ]
    ):
        Report.objects.filter(pk=made[key].pk).update(
            status=status,
            created_at=now - timedelta(hours=offset),
            row_count=offset,
            file_size=offset * 100,
        )
    return {key: Report.objects.get(pk=report.pk) for key, report in made.items()}


def listed(client, **params) -> list[Report]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return list(response.context["table"].page.object_list.data)


@pytest.mark.django_db
class TestReportList:
    def test_a_tenant_wide_viewer_sees_every_report_of_the_tenant(self, client, viewer, reports):
        client.force_login(viewer)
        assert set(listed(client)) == set(reports.values())

    def test_a_researcher_sees_only_their_own(self, client, researcher, reports):
        client.force_login(researcher)
        assert listed(client) == [reports["beta"]]

    def test_another_tenant_sees_nothing(self, client, charlie, reports):
        from tests.factories import grant

        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        response = client.get(URL)
        assert listed(client) == []
        assert "No reports match" in response.content.decode()

    def test_search_covers_name_description_and_creator(self, client, viewer, reports):
        client.force_login(viewer)
        assert listed(client, q="gpu review") == [reports["alpha"]]
        assert set(listed(client, q="bob@")) == set(
            Report.objects.filter(created_by__icontains="bob@")
        )
        assert listed(client, q="gamm") == [reports["gamma"]]

    def test_status_filter_matches_an_explicit_queryset(self, client, viewer, reports):
        client.force_login(viewer)
        result = listed(client, status=["Ready", "Pending"])
        assert set(result) == set(Report.objects.filter(status__in=["Ready", "Pending"]))

    def test_period_overlap_filter(self, client, viewer, reports):
        client.force_login(viewer)
        result = listed(client, period_from="2026-03-25T00:00:00Z")
        expected = Report.objects.filter(end__gt="2026-03-25T00:00:00Z")
        assert set(result) == set(expected) == {reports["alpha"], reports["gamma"]}

    @pytest.mark.parametrize(
        "column, key",
        [
            ("name", lambda r: r.name),
            ("description", lambda r: r.description),
            ("status", lambda r: r.status),
            ("type", lambda r: r.type),
            ("created_by", lambda r: r.created_by),
            ("created_at", lambda r: r.created_at),
            ("period", lambda r: (r.start, r.end)),
            ("group_by", lambda r: r.group_by),
            ("row_count", lambda r: r.row_count),
            ("file_size", lambda r: r.file_size),
            ("status_updated_at", lambda r: r.status_updated_at),
        ],
    )
    def test_every_column_sorts_both_ways(self, client, viewer, reports, column, key):
        client.force_login(viewer)
        ascending = listed(client, sort=column)
        descending = listed(client, sort=f"-{column}")
        assert [key(r) for r in ascending] == sorted(key(r) for r in reports.values())
        assert [key(r) for r in descending] == sorted(
            (key(r) for r in reports.values()), reverse=True
        )

    def test_paging_and_a_bad_page_size(self, client, viewer, reports):
        client.force_login(viewer)
        assert len(listed(client, per_page=10)) == 3
        assert listed(client, per_page="lots") == listed(client)

    def test_a_bad_date_is_reported_not_a_500(self, client, viewer, reports):
        client.force_login(viewer)
        response = client.get(URL, {"created_after": "yesterday"})
        assert response.status_code == 200
        assert "Enter a valid date/time." in response.content.decode()

    def test_a_failed_report_shows_its_message(self, client, viewer, reports):
        Report.objects.filter(pk=reports["alpha"].pk).update(
            status=ReportStatus.FAILED, status_message="The report could not be built."
        )
        client.force_login(viewer)
        assert "The report could not be built." in client.get(URL).content.decode()
