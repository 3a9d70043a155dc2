"""Report files in an S3-compatible bucket (a real moto server): where a build puts its object,
downloads streamed or redirected to a signed URL after every permission check, and deletion. The
orphan reconciliation, retention and rebuilds run on both backends in their own tests
(`report_storage`)."""

import io
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from reports.services import delete_reports
from reports_site.settings import report_files_storage
from tests.api.conftest import bearer, service_account
from tests.reports.conftest import ready_report
from tests.reports.readers import assert_parquet_matches_csv, assert_xlsx_matches_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

UNICODE_NAME = "Déjà vu: 東京 GPUs"


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def object_bytes(s3_server, bucket: str, key: str) -> bytes:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_without_a_bucket_report_files_are_local(monkeypatch):
    monkeypatch.delenv("S3_BUCKET", raising=False)
    assert report_files_storage() == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_redirecting_downloads_without_a_bucket_is_refused(monkeypatch):
    monkeypatch.delenv("S3_BUCKET", raising=False)
    monkeypatch.setenv("S3_DOWNLOAD_REDIRECT", "1")
    with pytest.raises(ImproperlyConfigured, match="S3_DOWNLOAD_REDIRECT needs S3_BUCKET"):
        report_files_storage()


def test_a_build_stores_one_object_under_the_prefix_named_by_the_reports_id(
    s3_server, s3_bucket, viewer, usage
):
    first = ready_report(viewer, "First")
    second = ready_report(viewer, "Second")
    assert sorted(s3_server.keys(s3_bucket)) == sorted(
        [f"site/reports/{first.pk}.csv", f"site/reports/{second.pk}.csv"]
    )
    text = object_bytes(s3_server, s3_bucket, f"site/reports/{first.pk}.csv").decode()
    assert text.startswith("Cluster,Department,Project,GPU allocation hours,")
    # usage: vision has 1 GPU for one hour in March.
    assert "east,research,vision,1.0000," in text
    assert first.file_size == len(text.encode())


def test_deleting_a_report_deletes_its_object(
    s3_server, s3_bucket, viewer, usage, django_capture_on_commit_callbacks
):
    kept, doomed = ready_report(viewer, "Kept"), ready_report(viewer, "Doomed")
    with django_capture_on_commit_callbacks(execute=True):
        delete_reports(viewer, [doomed])
    assert s3_server.keys(s3_bucket) == [f"site/reports/{kept.pk}.csv"]


class TestStreamedDownloads:
    def test_the_page_streams_the_object_under_the_reports_name(
        self, s3_server, s3_bucket, viewer, usage
    ):
        report = ready_report(viewer, UNICODE_NAME)
        response = logged_in(viewer).get(reverse("reports:report_download", args=[report.pk]))
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == object_bytes(
            s3_server, s3_bucket, f"site/reports/{report.pk}.csv"
        )
        assert response["Content-Disposition"] == (
            "attachment; filename*=utf-8''d%C3%A9j%C3%A0-vu-%E6%9D%B1%E4%BA%AC-gpus.csv"
        )

    def test_the_api_streams_it_too(self, s3_server, s3_bucket, tenant, usage):
        robot = service_account(tenant, "robot")
        report = ready_report(robot, "Built")
        response = bearer(robot).get(f"/api/v1/org-unit/reports/{report.pk}/file")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert b"".join(response.streaming_content) == object_bytes(
            s3_server, s3_bucket, f"site/reports/{report.pk}.csv"
        )

    def test_xlsx_and_parquet_are_made_from_the_object(
        self, s3_server, s3_bucket, tenant, viewer, usage
    ):
        report = ready_report(viewer, UNICODE_NAME, bucket="Day")
        stored = object_bytes(s3_server, s3_bucket, f"site/reports/{report.pk}.csv")
        page = logged_in(viewer).get(
            reverse("reports:report_download", args=[report.pk]), {"format": "xlsx"}
        )
        assert page.status_code == 200
        assert_xlsx_matches_csv(b"".join(page.streaming_content), stored)
        robot = service_account(tenant, "robot")
        api = bearer(robot).get(f"/api/v1/org-unit/reports/{report.pk}/file?format=parquet")
        assert api.status_code == 200
        assert_parquet_matches_csv(b"".join(api.streaming_content), stored)

    def test_several_are_zipped_from_their_objects(self, s3_server, s3_bucket, viewer, usage):
        reports = [ready_report(viewer, "One"), ready_report(viewer, "Two", group_by="Cluster")]
        response = logged_in(viewer).post(
            reverse("reports:report_download_selected"),
            {"ids": [report.pk for report in reports], "format": "parquet"},
        )
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
        for report, name in zip(reports, ["one.parquet", "two.parquet"], strict=True):
            stored = object_bytes(s3_server, s3_bucket, f"site/reports/{report.pk}.csv")
            assert_parquet_matches_csv(archive.read(name), stored)


class TestRedirectedDownloads:
    @pytest.fixture(autouse=True)
    def redirect(self, settings):
        settings.S3_DOWNLOAD_REDIRECT = True
        settings.S3_URL_EXPIRY_SECONDS = 120

    def test_the_page_redirects_to_a_signed_url_that_expires_and_keeps_the_name(
        self, s3_server, s3_bucket, viewer, usage
    ):
        report = ready_report(viewer, UNICODE_NAME)
        response = logged_in(viewer).get(reverse("reports:report_download", args=[report.pk]))
        assert response.status_code == 302
        url = urlsplit(response["Location"])
        assert f"{url.scheme}://{url.netloc}" == s3_server.endpoint_url
        assert url.path == f"/{s3_bucket}/site/reports/{report.pk}.csv"
        query = parse_qs(url.query)
        assert query["X-Amz-Expires"] == ["120"]
        assert "X-Amz-Signature" in query
        fetched = requests.get(response["Location"], timeout=10)
        assert fetched.status_code == 200
        assert fetched.content == object_bytes(
            s3_server, s3_bucket, f"site/reports/{report.pk}.csv"
        )
        assert fetched.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert fetched.headers["Content-Disposition"] == (
            "attachment; filename*=utf-8''d%C3%A9j%C3%A0-vu-%E6%9D%B1%E4%BA%AC-gpus.csv"
        )

    def test_xlsx_and_parquet_are_streamed_as_no_object_holds_them(
        self, s3_server, s3_bucket, viewer, usage
    ):
        report = ready_report(viewer, "Converted")
        stored = object_bytes(s3_server, s3_bucket, f"site/reports/{report.pk}.csv")
        url = reverse("reports:report_download", args=[report.pk])
        response = logged_in(viewer).get(url, {"format": "xlsx"})
        assert response.status_code == 200
        assert_xlsx_matches_csv(b"".join(response.streaming_content), stored)
        assert s3_server.keys(s3_bucket) == [f"site/reports/{report.pk}.csv"]

    def test_the_object_is_not_public(self, s3_server, s3_bucket, viewer, usage):
        report = ready_report(viewer, "Private")
        acl = s3_server.client().get_object_acl(
            Bucket=s3_bucket, Key=f"site/reports/{report.pk}.csv"
        )
        grantees = [grant["Grantee"] for grant in acl["Grants"]]
        assert [grantee["Type"] for grantee in grantees] == ["CanonicalUser"]
        assert grantees[0]["ID"] == acl["Owner"]["ID"]

    def test_whoever_may_not_see_the_report_gets_no_url(self, s3_bucket, viewer, bob, usage):
        report = ready_report(viewer, "Alice's")
        response = logged_in(bob).get(reverse("reports:report_download", args=[report.pk]))
        assert response.status_code == 404
        assert "Location" not in response

    def test_the_api_redirects_its_clients_the_same_way(
        self, s3_server, s3_bucket, tenant, other_tenant, usage
    ):
        robot = service_account(tenant, "robot")
        report = ready_report(robot, "Built")
        response = bearer(robot).get(f"/api/v1/org-unit/reports/{report.pk}/file")
        assert response.status_code == 302
        fetched = requests.get(response["Location"], timeout=10)
        assert fetched.content == object_bytes(
            s3_server, s3_bucket, f"site/reports/{report.pk}.csv"
        )
        stranger = service_account(other_tenant, "stranger", role="System administrator")
        refused = bearer(stranger).get(f"/api/v1/org-unit/reports/{report.pk}/file")
        assert refused.status_code == 404
        assert "Location" not in refused
