"""GET /api/v1/org-unit/reports/{reportId}/file?format=xlsx|parquet, an extension of Run:ai's
API (issue 15, Formats): the same rows as the CSV, typed, read back by other readers; without
`format` the CSV exactly as before; errors in the API's body; the served document says so."""

import pytest
from rest_framework.test import APIClient

from reports.models import Report
from reports.services import create_report
from tests.api.conftest import bearer, service_account
from tests.reports.conftest import MARCH, ready_report
from tests.reports.readers import (
    PARQUET_TYPE,
    XLSX_TYPE,
    assert_parquet_matches_csv,
    assert_xlsx_matches_csv,
)

REPORTS = "/api/v1/org-unit/reports"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


@pytest.fixture
def built(robot, usage) -> Report:
    return ready_report(robot, "Daily GPUs", bucket="Day")


def body(response) -> bytes:
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def the_csv(api, report) -> bytes:
    return body(api.get(f"{REPORTS}/{report.pk}/file"))


class TestFormats:
    def test_xlsx(self, api, built):
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": "xlsx"})
        assert response["Content-Type"] == XLSX_TYPE
        assert response["Content-Disposition"] == 'attachment; filename="daily-gpus.xlsx"'
        assert_xlsx_matches_csv(body(response), the_csv(api, built))

    def test_parquet(self, api, built):
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": "parquet"})
        assert response["Content-Type"] == PARQUET_TYPE
        assert response["Content-Disposition"] == 'attachment; filename="daily-gpus.parquet"'
        assert_parquet_matches_csv(body(response), the_csv(api, built))

    def test_csv_by_name_is_the_csv(self, api, built):
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": "csv"})
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        with built.file.open("rb") as file:
            assert body(response) == file.read()

    @pytest.mark.parametrize(
        "accept", [XLSX_TYPE, PARQUET_TYPE, "text/csv", "application/json", "*/*"]
    )
    def test_whatever_accept_says_the_format_decides(self, api, built, accept):
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": "parquet"}, HTTP_ACCEPT=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == PARQUET_TYPE

    def test_a_session_downloads_too(self, client, viewer, built):
        client.force_login(viewer)
        response = client.get(f"{REPORTS}/{built.pk}/file", {"format": "xlsx"})
        assert response["Content-Type"] == XLSX_TYPE
        assert_xlsx_matches_csv(body(response), the_csv(client, built))


class TestRefusals:
    @pytest.mark.parametrize("value", ["xls", "json", "", "Parquet"])
    def test_an_unknown_format_is_400_naming_the_formats(self, api, built, value):
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": value})
        assert response.status_code == 400
        assert response.json() == {
            "code": 400,
            "message": f"format: Unknown file format {value!r}: use one of csv, xlsx, parquet.",
        }

    def test_a_report_not_ready_is_409_as_for_the_csv(self, api, robot, usage):
        pending = create_report(robot, name="Waiting", start=MARCH[0], end=MARCH[1])
        for params in [{}, {"format": "xlsx"}, {"format": "parquet"}]:
            response = api.get(f"{REPORTS}/{pending.pk}/file", params)
            assert response.status_code == 409
            assert response.json() == {
                "code": 409,
                "message": "The report is Pending; its file can be downloaded once Ready.",
            }

    def test_more_rows_than_an_excel_sheet_holds_is_409(self, api, built):
        Report.objects.filter(pk=built.pk).update(row_count=1_048_576)
        response = api.get(f"{REPORTS}/{built.pk}/file", {"format": "xlsx"})
        assert response.status_code == 409
        assert response.json()["message"] == (
            "Too many rows for Excel, which holds at most 1,048,575 below its header: "
            "'Daily GPUs' (1,048,576 rows). Download as CSV or Parquet instead."
        )
        assert api.get(f"{REPORTS}/{built.pk}/file", {"format": "parquet"}).status_code == 200

    def test_another_tenants_report_is_not_found(self, built, intruder):
        for value in ["xlsx", "parquet", "nonsense"]:
            response = bearer(intruder).get(f"{REPORTS}/{built.pk}/file", {"format": value})
            assert response.status_code == 404
            assert response.json() == {"code": 404, "message": "Report not found."}

    def test_a_report_the_caller_may_not_see_is_not_found(self, tenant, usage, built):
        stranger = service_account(tenant, "stranger", role=None)
        response = bearer(stranger).get(f"{REPORTS}/{built.pk}/file", {"format": "xlsx"})
        assert response.status_code == 404

    def test_without_a_token_it_is_401(self, built):
        response = APIClient().get(f"{REPORTS}/{built.pk}/file", {"format": "xlsx"})
        assert response.status_code == 401


def test_the_served_document_describes_the_format_as_an_extension(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = document["paths"]["/api/v1/org-unit/reports/{reportId}/file"]["get"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "format"]
    assert parameter["in"] == "query"
    assert parameter.get("required", False) is False
    assert sorted(parameter["schema"]["enum"]) == ["csv", "parquet", "xlsx"]
    assert parameter["schema"]["default"] == "csv"
    assert parameter["description"].startswith("Extension (not in Run:ai's API)")
    assert set(operation["responses"]["200"]["content"]) == {"text/csv", XLSX_TYPE, PARQUET_TYPE}
    assert {"400", "404", "409"} <= set(operation["responses"])
