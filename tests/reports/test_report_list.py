"""Analytics > Reports: scoped to what the user may see, filtered, searched, sorted, paged."""

from datetime import timedelta

import pytest
from django.http import QueryDict
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
    return [row.record for row in response.context["table"].rows]


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
        assert "No reports yet. Create one with + New report." in response.content.decode()

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

    def test_period_overlap_filter_takes_whole_days(self, client, viewer, reports):
        client.force_login(viewer)
        # Beta ends (excluded) on 22 March: it has nothing on or after the 22nd.
        result = listed(client, period_from="2026-03-22")
        expected = Report.objects.filter(end__gt="2026-03-22T00:00:00Z")
        assert set(result) == set(expected) == {reports["alpha"], reports["gamma"]}
        # Gamma starts on 6 March: "to the 5th" misses it, "to the 6th" includes that day.
        assert set(listed(client, period_to="2026-03-05")) == set(
            Report.objects.filter(start__lt="2026-03-06T00:00:00Z")
        )
        assert reports["gamma"] not in listed(client, period_to="2026-03-05")
        assert reports["gamma"] in listed(client, period_to="2026-03-06")

    def test_filters_combine_and_a_status_may_have_several_values(self, client, viewer, reports):
        client.force_login(viewer)
        result = listed(client, status=["Ready", "Failed"], created_by="alice")
        expected = Report.objects.filter(
            status__in=["Ready", "Failed"], created_by__icontains="alice"
        )
        assert set(result) == set(expected) == {reports["alpha"]}

    def test_creation_time_range(self, client, viewer, reports):
        client.force_login(viewer)
        since = reports["beta"].created_at.strftime("%Y-%m-%dT%H:%M:%S")
        result = listed(client, created_after=since)
        expected = Report.objects.filter(created_at__gte=reports["beta"].created_at)
        assert set(result) == set(expected) == {reports["alpha"], reports["beta"]}

    def test_name_contains(self, client, viewer, reports):
        client.force_login(viewer)
        assert set(listed(client, name="ET")) == set(Report.objects.filter(name__icontains="et"))

    def test_active_filters_show_as_chips_that_remove_one_value(self, client, viewer, reports):
        client.force_login(viewer)
        response = client.get(URL, {"status": ["Ready", "Failed"], "q": "a", "page": "2"})
        chips = {
            (chip.label, chip.value): chip.remove_query
            for chip in response.context["filterset"].chips()
        }
        assert set(chips) == {("Status", "Ready"), ("Status", "Failed")}
        # Removing one value keeps the other and the search, and goes back to the first page.
        assert QueryDict(chips[("Status", "Ready")]) == QueryDict("status=Failed&q=a")
        assert 'aria-label="Remove filter Status: Ready"' in response.content.decode()

    def test_the_add_filter_menu_keeps_the_rest_of_the_query(self, client, viewer, reports):
        client.force_login(viewer)
        response = client.get(URL, {"status": "Ready", "sort": "name", "per_page": "10"})
        menu = {choice.key: choice for choice in response.context["filterset"].menu()}
        assert set(menu) == {"status", "type", "created_by", "name", "created", "period"}
        assert sorted(menu["status"].keep) == [("per_page", "10"), ("sort", "name")]
        assert sorted(menu["name"].keep) == [
            ("per_page", "10"),
            ("sort", "name"),
            ("status", "Ready"),
        ]

    def test_an_empty_result_says_what_to_do(self, client, viewer, reports):
        client.force_login(viewer)
        response = client.get(URL, {"q": "nothing like this"})
        assert "No reports match. Remove a filter, or clear them all." in response.content.decode()

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
