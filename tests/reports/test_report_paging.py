"""Paging the Reports table: pages past the middle are read from the far end, and must be the
very pages an OFFSET would give; a text search counts only so far."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.admin import ReportAdmin
from reports.models import Report, ReportStatus
from reports.tables import ReportTable
from reports_site.paging import Paginator
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


class TestCountLimit:
    """The table counts only so far (a tenant may have a million reports), but every page,
    the last too, can still be asked for: only then are all counted."""

    @pytest.fixture(autouse=True)
    def limit(self, monkeypatch):
        monkeypatch.setattr("reports.views.COUNT_LIMIT", 5)

    def test_the_first_pages_count_only_so_far(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 2})
        paginator = response.context["paginator"]
        assert paginator.is_capped and paginator.count == 5
        html = response.content.decode()
        assert "More than 5 reports" in html
        assert "narrow the search" not in html.lower()
        # Pages 1 and 2 were counted whole, and there is a third: further is not known.
        assert 'href="?per_page=2&amp;page=3" aria-label="Page 3">3</a>' in html
        assert "page=4" not in html
        assert 'href="?per_page=2&amp;page=2" rel="next">Next</a>' in html
        assert 'href="?per_page=2&amp;page=last">Last</a>' in html

    def test_every_page_is_the_slice_an_offset_would_give(self, client, viewer, many):
        client.force_login(viewer)
        seen = []
        for number in range(1, 13):
            page, ordered = page_of(client, page=number, per_page=2)
            assert page == ordered[(number - 1) * 2 : number * 2], number
            seen += page
        assert sorted(report.pk for report in seen) == sorted(report.pk for report in many)

    def test_a_page_past_the_limit_counts_them_all(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 2, "page": 4})
        paginator = response.context["paginator"]
        assert not paginator.is_capped and paginator.count == 23
        html = response.content.decode()
        assert "23 reports" in html
        assert 'href="?per_page=2&amp;page=12" aria-label="Page 12">12</a>' in html
        assert ">Last</a>" not in html

    def test_the_last_page(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 2, "page": "last", "status": "Ready"})
        readable = Report.objects.permitted(viewer, "read")
        ordered = list(readable.filter(status=ReportStatus.READY).order_by("-created_at", "-pk"))
        assert len(ordered) == 8
        assert response.context["page_obj"].number == 4
        assert [row.record for row in response.context["table"].rows] == ordered[6:]

    def test_a_page_past_the_end_shows_the_last(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"per_page": 10, "page": 99})
        assert response.context["page_obj"].number == 3
        assert len(response.context["table"].rows) == 3

    def test_a_filter_counts_only_so_far_too(self, client, viewer, many):
        client.force_login(viewer)
        response = client.get(URL, {"status": "Ready", "per_page": 2})
        assert response.context["paginator"].is_capped
        assert "More than 5 reports" in response.content.decode()

    def test_counts_have_thousands_separators(self, client, viewer, monkeypatch):
        monkeypatch.setattr("reports.views.COUNT_LIMIT", 1000)
        Report.objects.bulk_create(
            Report(
                tenant=viewer.tenant,
                name=f"Report {n}",
                start=MARCH[0],
                end=MARCH[1],
                created_by=viewer.email,
                created_by_user=viewer,
            )
            for n in range(1001)
        )
        client.force_login(viewer)
        assert "More than 1,000 reports" in client.get(URL).content.decode()
        assert "1,001 reports" in client.get(URL, {"page": "last"}).content.decode()

    def test_a_text_search_has_no_pages_past_its_limit(self, client, viewer, many, monkeypatch):
        monkeypatch.setattr("reports.views.SEARCH_COUNT_LIMIT", 5)
        client.force_login(viewer)
        response = client.get(URL, {"q": "report", "per_page": 2, "page": "last"})
        assert response.context["page_obj"].number == 3
        assert ">Last</a>" not in response.content.decode()


class TestElidedPageRange:
    """Past the counted pages, the page links end with an ellipsis: the last is not known."""

    @pytest.mark.parametrize(
        ("number", "expected"),
        [
            (1, [1, 2, 3, 4, "…"]),
            (7, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "…"]),
            (8, [1, 2, "…", 5, 6, 7, 8, 9, 10, 11, "…"]),
            (20, [1, 2, "…", 17, 18, 19, 20, 21, "…"]),
        ],
    )
    def test_it(self, many, number, expected):
        paginator = Paginator(Report.objects.all(), 1, count_limit=20, pages_past_limit=True)
        assert paginator.num_pages == 21
        assert list(paginator.get_elided_page_range(number)) == expected

    def test_a_known_last_page_ends_the_range(self, many):
        paginator = Paginator(Report.objects.all(), 1, count_limit=30, pages_past_limit=True)
        assert list(paginator.get_elided_page_range(20)) == [1, 2, "…", *range(17, 24)]


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
