"""Paging the Reports table: pages past the middle are read from the far end, and must be the
very pages an OFFSET would give; a text search counts only so far."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.models import Report, ReportStatus
from reports.tables import ReportTable
from tests.reports.conftest import MARCH

URL = reverse("reports:report_list")
ORDERABLE = [
    column.name for column in ReportTable(Report.objects.none()).columns.all() if column.orderable
]

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(viewer):
    """23 reports with many ties: equal creation times, names that differ only in case order,
    three statuses, empty and null values."""
    now = timezone.now()
    return Report.objects.bulk_create(
        Report(
            tenant=viewer.tenant,
            name=f"Report {n % 7} {n}",
            description=["", "b", "a"][n % 3],
            start=MARCH[0] + timedelta(days=n % 4),
            end=MARCH[1],
            created_by=f"user{n % 2}@acme.example",
            created_by_user=viewer,
            created_at=now - timedelta(hours=n // 5),
            status=[ReportStatus.READY, ReportStatus.FAILED, ReportStatus.PENDING][n % 3],
            row_count=None if n % 4 == 0 else n % 5,
        )
        for n in range(23)
    )


def page_of(client, **params) -> tuple[list, list]:
    """The page's reports, and all the table's reports in the table's order."""
    response = client.get(URL, {"per_page": 10, **params})
    assert response.status_code == 200
    table = response.context["table"]
    return [row.record for row in table.page.object_list], list(table.data.data)


class TestPaging:
    @pytest.mark.parametrize("sort", [*ORDERABLE, *(f"-{name}" for name in ORDERABLE)])
    def test_every_page_is_the_slice_an_offset_would_give(self, client, viewer, many, sort):
        client.force_login(viewer)
        seen = []
        for number in (1, 2, 3):
            page, ordered = page_of(client, sort=sort, page=number)
            assert page == ordered[(number - 1) * 10 : number * 10], (sort, number)
            seen += page
        assert sorted(report.pk for report in seen) == sorted(report.pk for report in many)

    def test_the_last_page_with_a_filter(self, client, viewer, many):
        client.force_login(viewer)
        page, ordered = page_of(client, status="Ready", page=2, per_page=5)
        assert len(ordered) == 8
        assert page == ordered[5:8]
        assert all(report.status == ReportStatus.READY for report in page)

    def test_a_text_search_counts_only_so_far(self, client, viewer, many, monkeypatch):
        monkeypatch.setattr("reports.views.SEARCH_COUNT_LIMIT", 5)
        client.force_login(viewer)
        response = client.get(URL, {"q": "report", "per_page": 10})
        paginator = response.context["table"].paginator
        assert paginator.is_capped and paginator.count == 5
        assert len(response.context["table"].page.object_list) == 5
        assert "More than 5 reports match; the first 5 are shown." in response.content.decode()

    def test_a_search_under_the_limit_is_counted_exactly(self, client, viewer, many, monkeypatch):
        monkeypatch.setattr("reports.views.SEARCH_COUNT_LIMIT", 5)
        client.force_login(viewer)
        response = client.get(URL, {"name": "report 6 ", "per_page": 10})
        paginator = response.context["table"].paginator
        expected = Report.objects.filter(name__icontains="report 6 ").count()
        assert not paginator.is_capped and paginator.count == expected == 3
        assert f"{expected} reports" in response.content.decode()

    def test_a_page_past_the_end_shows_the_last(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 10, "page": 99})
        assert response.status_code == 200
        assert response.context["table"].page.number == 3
