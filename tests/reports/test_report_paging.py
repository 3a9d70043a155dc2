"""Paging the Reports table: pages past the middle are read from the far end, and must be the
very pages an OFFSET would give; a text search counts only so far."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.admin import ReportAdmin
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
    ordered = list(response.context["paginator"].object_list)
    by_pk = Report.objects.in_bulk(ordered)
    return [row.record for row in response.context["table"].rows], [by_pk[pk] for pk in ordered]


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
        paginator = response.context["paginator"]
        assert paginator.is_capped and paginator.count == 5
        assert len(response.context["table"].rows) == 5
        assert "More than 5 reports match; the first 5 are shown." in response.content.decode()

    def test_a_search_under_the_limit_is_counted_exactly(self, client, viewer, many, monkeypatch):
        monkeypatch.setattr("reports.views.SEARCH_COUNT_LIMIT", 5)
        client.force_login(viewer)
        response = client.get(URL, {"name": "report 6 ", "per_page": 10})
        paginator = response.context["paginator"]
        expected = Report.objects.filter(name__icontains="report 6 ").count()
        assert not paginator.is_capped and paginator.count == expected == 3
        assert f"{expected} reports" in response.content.decode()

    def test_a_page_past_the_end_shows_the_last(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 10, "page": 99})
        assert response.status_code == 200
        assert response.context["page_obj"].number == 3

    def test_the_page_links_keep_the_query_and_lead_to_each_page(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"sort": "name", "per_page": 10, "page": 2})
        html = response.content.decode()
        assert 'href="?sort=name&amp;per_page=10&amp;page=1" rel="prev">Previous</a>' in html
        assert 'href="?sort=name&amp;per_page=10&amp;page=2" aria-current="page">2</a>' in html
        assert 'href="?sort=name&amp;per_page=10&amp;page=3" aria-label="Page 3">3</a>' in html
        assert 'href="?sort=name&amp;per_page=10&amp;page=3" rel="next">Next</a>' in html
        assert "page=4" not in html

    def test_a_single_page_has_no_page_links(self, client, viewer, many):
        client.force_login(viewer)
        assert 'class="pagination"' not in client.get(URL, {"per_page": 25}).content.decode()


class TestAdminPaging:
    """The admin's list uses the same paginator: its far pages are read from the end too."""

    @pytest.mark.parametrize("order", ["", "1", "-1", "4", "-4"])
    def test_every_page_is_the_slice_an_offset_would_give(
        self, admin_client, many, monkeypatch, order
    ):
        monkeypatch.setattr(ReportAdmin, "list_per_page", 10)
        url = reverse("admin:reports_report_changelist")
        ordered, seen = None, []
        for number in (1, 2, 3):
            response = admin_client.get(url, {"o": order, "p": number} if order else {"p": number})
            changelist = response.context["cl"]
            if ordered is None:
                ordered = list(changelist.queryset)
                assert len(ordered) == len(many) == 23
            page = list(changelist.result_list)
            assert page == ordered[(number - 1) * 10 : number * 10], (order, number)
            seen += page
        assert sorted(report.pk for report in seen) == sorted(report.pk for report in many)
