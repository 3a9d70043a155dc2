"""What a logged-in user can send the pages that they do not expect: it is refused in words,
never a server error."""

from datetime import timedelta, timezone

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Report
from tests.reports.conftest import ready_report

LIST = reverse("reports:report_list")
CREATE = reverse("reports:report_create")
COLUMNS = reverse("reports:report_columns")
DELETE = reverse("reports:report_delete")
DOWNLOAD = reverse("reports:report_download_selected")
FORM = "application/x-www-form-urlencoded"

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]


@pytest.fixture
def browser(viewer):
    """alice, logged in; a server error comes back as a response, not as an exception."""
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    return client


@pytest.fixture
def march(viewer, usage):
    return ready_report(viewer, "March GPUs")


class TestListPageSize:
    @pytest.mark.parametrize("size", ["-1", "-25", "0", "101", "1000000"])
    def test_a_page_size_out_of_range_gives_the_default(self, browser, march, size):
        response = browser.get(LIST, {"per_page": size})
        assert response.status_code == 200
        assert response.context["paginator"].per_page == 25
        assert "March GPUs" in response.content.decode()


class TestListDates:
    @pytest.mark.parametrize(
        "field, value, label",
        [
            ("period_to", "9999-12-31", "Period overlaps to"),
            ("period_from", "9999-12-31", "Period overlaps from"),
            ("period_from", "0001-01-01", "Period overlaps from"),
            ("created_after", "9999-12-31T23:59:59-05:00", "Created from"),
            ("created_before", "0001-01-01T00:00:00+05:00", "Created before"),
        ],
    )
    def test_a_date_at_the_edge_is_refused_with_a_message(
        self, browser, march, field, value, label
    ):
        response = browser.get(LIST, {field: value})
        assert response.status_code == 200
        assert list(response.context["filterset"].errors) == [field]
        html = response.content.decode()
        assert f"{label}: Enter a date between 0001-01-02 and 9999-12-30." in html
        # The other filters still apply: the report is listed.
        assert "March GPUs" in html

    @pytest.mark.parametrize("hours", [23, -23])
    def test_a_moment_with_any_offset_filters_in_utc(self, browser, march, hours):
        # PostgreSQL refuses offsets beyond ±15:59; ISO 8601 allows up to ±23:59.
        zone = timezone(timedelta(hours=hours, minutes=59 if hours > 0 else -59))
        just_after = (march.created_at + timedelta(seconds=1)).astimezone(zone).isoformat()

        before = browser.get(LIST, {"created_before": just_after})
        after = browser.get(LIST, {"created_after": just_after})

        assert (before.status_code, after.status_code) == (200, 200)
        assert not before.context["filterset"].errors and not after.context["filterset"].errors
        assert "March GPUs" in before.content.decode()
        assert "March GPUs" not in after.content.decode()

    def test_the_last_supported_day_still_filters(self, browser, march):
        response = browser.get(LIST, {"period_from": "2026-03-31", "period_to": "9998-12-31"})
        assert response.status_code == 200
        assert not response.context["filterset"].errors
        assert "March GPUs" in response.content.decode()


class TestCreateDates:
    @pytest.mark.parametrize(
        "start, end, field",
        [("2026-03-01", "9999-12-31", "end_date"), ("9999-12-31", "9999-12-31", "start_date")],
    )
    def test_a_date_at_the_edge_is_an_error_beside_its_field(
        self, browser, usage, start, end, field
    ):
        data = {"name": "Far", "start_date": start, "end_date": end, "group_by": "Project"}
        response = browser.post(CREATE, data)
        assert response.status_code == 400
        assert field in response.context["form"].errors
        html = response.content.decode()
        assert 'value="Far"' in html and f'value="{end}"' in html
        assert not Report.objects.exists()


class TestNextIsOnlyAUrl:
    @pytest.mark.parametrize("junk", ["foo", "0", "reports:report_list", "javascript:alert(1)"])
    def test_columns_go_back_to_the_list(self, browser, junk):
        response = browser.post(COLUMNS, {"columns": ["status"], "next": junk})
        assert (response.status_code, response["Location"]) == (302, LIST)

    @pytest.mark.parametrize("junk", ["foo", "0", "//evil.example/"])
    def test_delete_goes_back_to_the_list(self, browser, march, junk):
        response = browser.post(DELETE, {"ids": [march.pk], "confirm": "1", "next": junk})
        assert (response.status_code, response["Location"]) == (302, LIST)
        assert not Report.objects.exists()

    def test_a_bad_selection_goes_back_to_the_list(self, browser):
        response = browser.post(DOWNLOAD, {"ids": ["x"], "next": "foo"})
        assert (response.status_code, response["Location"]) == (302, LIST)

    def test_a_path_of_the_site_is_kept(self, browser):
        response = browser.post(COLUMNS, {"columns": ["status"], "next": f"{LIST}?q=march"})
        assert response["Location"] == f"{LIST}?q=march"


class TestInvalidUtf8:
    @pytest.mark.parametrize("url", [DELETE, DOWNLOAD, COLUMNS])
    def test_a_body_that_is_not_utf8_is_refused(self, browser, march, url):
        response = browser.post(url, "ids=%FF&next=%FF&confirm=1", content_type=FORM)
        assert response.status_code < 500
        assert Report.objects.filter(pk=march.pk).exists()


class TestLoginLoop:
    @pytest.mark.parametrize("method", ["get", "post"])
    @pytest.mark.parametrize("suffix", ["", "?again=1"])
    def test_a_next_that_is_the_login_page_goes_home(self, browser, method, suffix):
        login = reverse("login")
        response = getattr(browser, method)(f"{login}?next={login}{suffix}")
        assert (response.status_code, response["Location"]) == (302, "/")

    def test_another_next_is_followed(self, browser):
        login = reverse("login")
        response = browser.get(f"{login}?next=/analytics/reports/new/")
        assert (response.status_code, response["Location"]) == (302, "/analytics/reports/new/")
