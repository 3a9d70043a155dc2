"""The table's actions on selected reports: Download CSV (a zip for several) and Delete."""

import io
import urllib.parse
import uuid
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Report
from reports.services import create_report
from tests.factories import grant
from tests.reports.conftest import MARCH, ready_report

DOWNLOAD = reverse("reports:report_download_selected")
DELETE = reverse("reports:report_delete")
LIST = reverse("reports:report_list")

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]


@pytest.fixture
def march(viewer, usage):
    return ready_report(viewer, "March GPUs")


@pytest.fixture
def march_by_cluster(viewer, usage):
    return ready_report(viewer, "March: clusters", group_by="Cluster")


@pytest.fixture
def pending(viewer, usage):
    return create_report(viewer, name="Still waiting", start=MARCH[0], end=MARCH[1])


@pytest.fixture
def bobs(researcher, usage):
    return create_report(researcher, name="Vision only", start=MARCH[0], end=MARCH[1])


class TestDownloadSelected:
    def test_one_report_downloads_as_its_csv(self, client, viewer, march):
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": [march.pk]})
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="march-gpus.csv"'
        with march.file.open("rb") as file:
            assert b"".join(response.streaming_content) == file.read()

    def test_several_download_as_a_zip_of_their_csvs(self, client, viewer, march, march_by_cluster):
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": [march.pk, march_by_cluster.pk]})
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert sorted(archive.namelist()) == ["march-clusters.csv", "march-gpus.csv"]
        for report, name in [(march, "march-gpus.csv"), (march_by_cluster, "march-clusters.csv")]:
            with report.file.open("rb") as file:
                assert archive.read(name) == file.read()

    def test_names_that_slugify_alike_stay_apart_in_the_zip(self, client, viewer, march):
        twin = ready_report(viewer, "March: GPUs!")
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": [march.pk, twin.pk]})
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert sorted(archive.namelist()) == ["march-gpus-2.csv", "march-gpus.csv"]

    @pytest.mark.parametrize(
        "name, expected",
        [
            ("Отчёт", "отчёт.csv"),
            ("报告 十一月", "报告-十一月.csv"),
            ("Ärger: März", "ärger-märz.csv"),
        ],
    )
    def test_a_non_latin_name_keeps_its_letters(self, client, viewer, usage, name, expected):
        report = ready_report(viewer, name)
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": [report.pk]})
        # RFC 6266: the name in UTF-8, percent-encoded, in filename*.
        assert response["Content-Disposition"] == (
            f"attachment; filename*=utf-8''{urllib.parse.quote(expected)}"
        )

    def test_non_latin_names_keep_their_letters_in_the_zip(self, client, viewer, usage):
        ids = [ready_report(viewer, name).pk for name in ("Отчёт", "报告 十一月")]
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": ids})
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        assert sorted(archive.namelist()) == sorted(["отчёт.csv", "报告-十一月.csv"])

    def test_a_report_that_is_not_ready_is_named_and_nothing_downloads(
        self, client, viewer, march, pending
    ):
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": [march.pk, pending.pk]})
        assert response.status_code == 409
        html = response.content.decode()
        assert "Still waiting" in html and "Pending" in html
        assert "March GPUs" not in html.split("Not ready:")[1]

    def test_another_tenants_report_is_not_found(self, client, charlie, march):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        assert client.post(DOWNLOAD, {"ids": [march.pk]}).status_code == 404

    def test_a_report_the_user_may_not_see_is_not_found(self, client, researcher, march, bobs):
        client.force_login(researcher)
        assert client.post(DOWNLOAD, {"ids": [march.pk, bobs.pk]}).status_code == 404

    @pytest.mark.parametrize(
        "ids, message",
        [
            ([], "Select at least one report."),
            (["not-a-uuid"], "The selection holds something that is not a report id."),
        ],
    )
    def test_a_bad_selection_is_explained(self, client, viewer, march, ids, message):
        client.force_login(viewer)
        response = client.post(DOWNLOAD, {"ids": ids}, follow=True)
        assert response.redirect_chain == [(LIST, 302)]
        assert message in response.content.decode()

    def test_it_needs_post_and_csrf(self, viewer, march):
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        assert client.get(DOWNLOAD, {"ids": [march.pk]}).status_code == 405
        assert client.post(DOWNLOAD, {"ids": [march.pk]}).status_code == 403


class TestDelete:
    def test_it_first_asks_naming_what_will_be_deleted(self, client, viewer, march, pending):
        grant(viewer, "Department administrator", viewer.tenant)  # project:delete throughout
        client.force_login(viewer)
        response = client.post(DELETE, {"ids": [march.pk, pending.pk], "next": f"{LIST}?q=m"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "<li>March GPUs</li>" in html and "<li>Still waiting</li>" in html
        assert "Delete these 2 reports and their files?" in html
        assert Report.objects.count() == 2

    def test_htmx_gets_the_question_as_a_dialog(self, client, viewer, march):
        grant(viewer, "Department administrator", viewer.tenant)
        client.force_login(viewer)
        response = client.post(DELETE, {"ids": [march.pk]}, headers={"HX-Request": "true"})
        html = response.content.decode()
        assert html.lstrip().startswith("<dialog")
        assert "Delete this report and its file?" in html
        assert "<li>March GPUs</li>" in html

    def test_confirming_deletes_the_reports_and_their_files(
        self, client, viewer, march, pending, media, django_capture_on_commit_callbacks
    ):
        grant(viewer, "Department administrator", viewer.tenant)
        client.force_login(viewer)
        path = media / march.file.name
        assert path.exists()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                DELETE,
                {"ids": [march.pk, pending.pk], "confirm": "1", "next": f"{LIST}?q=m"},
                follow=True,
            )
        assert response.redirect_chain == [(f"{LIST}?q=m", 302)]
        assert "Deleted 2 reports: " in response.content.decode()
        assert not Report.objects.exists()
        assert not path.exists()

    def test_a_researcher_deletes_their_own(self, client, researcher, bobs):
        client.force_login(researcher)
        client.post(DELETE, {"ids": [bobs.pk], "confirm": "1"})
        assert not Report.objects.filter(pk=bobs.pk).exists()

    def test_one_the_user_may_see_but_not_delete_is_refused(self, client, viewer, march, bobs):
        # A Viewer sees every report of the tenant but may delete only their own.
        client.force_login(viewer)
        for data in ({"ids": [march.pk, bobs.pk]}, {"ids": [march.pk, bobs.pk], "confirm": "1"}):
            response = client.post(DELETE, data)
            assert response.status_code == 403
            html = response.content.decode()
            assert "Nothing was deleted" in html and "<strong>Vision only</strong>" in html
            assert "March GPUs" not in html
        assert Report.objects.count() == 2

    def test_another_tenants_report_is_not_found(self, client, charlie, march):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        assert client.post(DELETE, {"ids": [march.pk], "confirm": "1"}).status_code == 404
        assert Report.objects.filter(pk=march.pk).exists()

    def test_an_unknown_id_is_not_found_and_nothing_is_deleted(self, client, viewer, march):
        client.force_login(viewer)
        response = client.post(DELETE, {"ids": [march.pk, uuid.uuid4()], "confirm": "1"})
        assert response.status_code == 404
        assert Report.objects.filter(pk=march.pk).exists()

    def test_it_goes_back_only_to_this_site(self, client, viewer, march):
        client.force_login(viewer)
        response = client.post(
            DELETE, {"ids": [march.pk], "confirm": "1", "next": "https://elsewhere.example/"}
        )
        assert response["Location"] == LIST

    def test_it_needs_post_and_csrf(self, viewer, march):
        client = Client(enforce_csrf_checks=True)
        client.force_login(viewer)
        assert client.get(DELETE, {"ids": [march.pk], "confirm": "1"}).status_code == 405
        assert client.post(DELETE, {"ids": [march.pk], "confirm": "1"}).status_code == 403
        assert Report.objects.filter(pk=march.pk).exists()

    def test_the_reports_page_offers_delete(self, client, viewer, march):
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[march.pk])).content.decode()
        assert f'action="{DELETE}"' in html
        assert f'<input type="hidden" name="ids" value="{march.pk}">' in html
