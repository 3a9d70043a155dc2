"""The reports endpoints, with robot's bearer token (and a browser session): bodies, status
codes and errors as Run:ai's API has them."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from consumption.models import Price
from reports.models import Report, ReportStatus
from reports.services import create_report
from reports.tasks import build_report
from tests.api.conftest import bearer, service_account
from tests.reports.conftest import MARCH, ready_report

REPORTS = "/api/v1/org-unit/reports"
FIELDS = {
    "id",
    "tenantId",
    "name",
    "description",
    "start",
    "end",
    "groupBy",
    "filterBy",
    "createdAt",
    "createdBy",
    "status",
    "statusUpdatedAt",
    "statusMessage",
    # Ours, beyond Run:ai's
    "bucket",
    "timeZone",
    "costs",
}

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


def body(**fields) -> dict:
    return {
        "name": "March",
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-04-01T00:00:00Z",
    } | fields


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [report["name"] for report in response.json()["reports"]]


@pytest.fixture
def seven(robot, viewer, usage):
    """Seven reports: five of robot's, two of alice's, created a minute apart."""
    made = []
    for n in range(7):
        subject = robot if n < 5 else viewer
        report = create_report(subject, name=f"R{n}", start=MARCH[0], end=MARCH[1])
        Report.objects.filter(pk=report.pk).update(
            created_at=timezone.now() - timedelta(minutes=10 - n)
        )
        made.append(report)
    return made


class TestCreate:
    def test_it_answers_202_with_the_report(self, api, robot, usage):
        response = api.post(
            REPORTS,
            body(description="GPUs", groupBy="Department", filterBy=["departmentName==research"]),
            format="json",
        )
        assert response.status_code == 202
        report = response.json()
        assert set(report) == FIELDS
        assert report | {"id": None, "createdAt": None, "statusUpdatedAt": None} == {
            "id": None,
            "tenantId": robot.tenant_id,
            "name": "March",
            "description": "GPUs",
            "start": "2026-03-01T00:00:00Z",
            "end": "2026-04-01T00:00:00Z",
            "groupBy": "Department",
            "filterBy": ["departmentName==research"],
            "createdAt": None,
            "createdBy": "sa:robot",
            "status": "Pending",
            "statusUpdatedAt": None,
            "statusMessage": "Report in queue",
            "bucket": None,
            "timeZone": "UTC",
            "costs": False,
        }
        assert Report.objects.get(pk=report["id"]).created_by_service_account == robot

    def test_rows_per_week_of_a_time_zone(self, api, usage):
        response = api.post(
            REPORTS,
            body(groupBy="Cluster", bucket="Week", timeZone="America/New_York"),
            format="json",
        )
        assert response.status_code == 202
        sent = response.json()
        assert (sent["groupBy"], sent["bucket"], sent["timeZone"]) == (
            "Cluster",
            "Week",
            "America/New_York",
        )
        report = Report.objects.get(pk=response.json()["id"])
        assert (report.bucket, report.time_zone) == ("Week", "America/New_York")

    def test_rows_per_workload(self, api, usage):
        response = api.post(REPORTS, body(groupBy="Workload"), format="json")
        assert response.status_code == 202
        assert response.json()["groupBy"] == "Workload"
        report = Report.objects.get(pk=response.json()["id"])
        build_report(str(report.pk))
        file = api.get(f"{REPORTS}/{report.pk}/file")
        lines = b"".join(file.streaming_content).decode().splitlines()
        assert lines[0].startswith("Cluster,Department,Project,Workload,GPU allocation hours,")
        assert [line.split(",")[:5] for line in lines[1:]] == [
            ["east", "ops", "infra", "job", "4.0000"],
            ["east", "research", "nlp", "job", "2.0000"],
            ["east", "research", "vision", "job", "1.0000"],
            ["west", "training", "llm", "job", "8.0000"],
        ]

    def test_costs_at_the_tenants_prices(self, api, tenant, usage):
        for resource, amount in (("gpu", "2.5"), ("cpu", "0.1"), ("memory", "0.02")):
            Price.objects.create(
                tenant=tenant,
                resource=resource,
                amount=Decimal(amount),
                currency="CHF",
                valid_from=MARCH[0],
            )
        response = api.post(REPORTS, body(groupBy="Cluster", costs=True), format="json")
        assert response.status_code == 202
        assert response.json()["costs"] is True
        report_id = response.json()["id"]
        build_report(report_id)
        file = api.get(f"{REPORTS}/{report_id}/file")
        lines = b"".join(file.streaming_content).decode().splitlines()
        assert lines[0].split(",")[-5:] == [
            "GPU cost (CHF)",
            "GPU idle cost (CHF)",
            "CPU cost (CHF)",
            "CPU memory cost (CHF)",
            "Total cost (CHF)",
        ]
        # east: 7 GPU-hours at 2.5, 2 core-hours at 0.1, 3600 byte-hours (a sliver of a
        # GiB-hour) at 0.02; west: 8 GPU-hours.
        assert [line.split(",")[:1] + line.split(",")[-5:] for line in lines[1:]] == [
            ["east", "17.50", "0.00", "0.20", "0.00", "17.70"],
            ["west", "20.00", "0.00", "0.00", "0.00", "20.00"],
        ]

    def test_costs_without_prices_fail_saying_so(self, api, usage):
        response = api.post(REPORTS, body(costs=True), format="json")
        build_report(response.json()["id"])
        report = api.get(f"{REPORTS}/{response.json()['id']}").json()
        assert report["status"] == "Failed"
        assert report["statusMessage"].startswith("No prices are set for ")

    def test_the_document_calls_workload_an_extension(self, api):
        document = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
        schemas = document["components"]["schemas"]
        assert "Workload" in schemas["GroupByEnum"]["enum"]
        for body_or_answer in ("ReportRequestRequest", "Report"):
            group_by = schemas[body_or_answer]["properties"]["groupBy"]
            assert "Workload, an extension (not in Run:ai's API)" in group_by["description"]

    @pytest.mark.parametrize(
        "extra, field, message",
        [
            ({"timeZone": "Mars/Olympus"}, "timeZone", "Unknown time zone 'Mars/Olympus'"),
            ({"bucket": "Hour"}, "bucket", "not a valid choice"),
        ],
    )
    def test_a_bad_bucket_or_time_zone_is_named(self, api, usage, extra, field, message):
        response = api.post(REPORTS, body(**extra), format="json")
        assert response.status_code == 400
        assert f"{field}: " in response.json()["message"]
        assert message in response.json()["message"]
        assert not Report.objects.exists()

    def test_milliseconds_as_runai_clients_send_them_are_dropped(self, api, usage):
        response = api.post(
            REPORTS,
            body(start="2026-03-01T09:09:18.211Z", end="2026-03-02T12:09:18.999+02:00"),
            format="json",
        )
        assert response.status_code == 202
        assert (response.json()["start"], response.json()["end"]) == (
            "2026-03-01T09:09:18Z",
            "2026-03-02T10:09:18Z",
        )

    def test_no_group_by_means_project(self, api, usage):
        response = api.post(REPORTS, body(groupBy=None), format="json")
        assert response.json()["groupBy"] == "Project"

    def test_a_duplicate_name_is_409(self, api, usage):
        api.post(REPORTS, body(), format="json")
        response = api.post(REPORTS, body(name="MARCH"), format="json")
        assert response.status_code == 409
        assert response.json() == {"code": 409, "message": "A report named 'MARCH' already exists."}

    @pytest.mark.parametrize(
        "fields, message",
        [
            ({"end": "2026-02-01T00:00:00Z"}, "end: The end must be after the start."),
            ({"end": "2099-01-01T00:00:00Z"}, "end: The end cannot be later than the end of today"),
            ({"start": "2024-01-01T00:00:00Z"}, "end: The collection period can be at most 366"),
            ({"name": "  "}, "name: Enter a name."),
            ({"name": "x" * 251}, "name: Use at most 250 characters"),
            ({"start": "yesterday"}, "start: Datetime has wrong format."),
            ({"groupBy": "Planet"}, 'groupBy: "Planet" is not a valid choice.'),
            ({"filterBy": ["planet==earth"]}, "filterBy:"),
            ({"filterBy": "projectName==a"}, "filterBy: Expected a list of items"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, api, usage, fields, message):
        response = api.post(REPORTS, body(**fields), format="json")
        assert response.status_code == 400
        assert response.json()["code"] == 400
        assert message in response.json()["message"]
        assert not Report.objects.exists()

    def test_a_missing_field_is_named(self, api, usage):
        response = api.post(REPORTS, {"start": "2026-03-01T00:00:00Z"}, format="json")
        assert response.status_code == 400
        message = response.json()["message"]
        assert "name: This field is required." in message
        assert "end: This field is required." in message

    @pytest.mark.parametrize("raw", ["{", "[]", "null", '"name"', "1"])
    def test_a_body_that_is_not_an_object_is_400(self, api, usage, raw):
        response = api.post(REPORTS, raw, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == 400

    def test_a_subject_that_may_read_no_project_is_403(self, tenant):
        nobody = service_account(tenant, "nobody", role=None)
        response = bearer(nobody).post(REPORTS, body(), format="json")
        assert response.status_code == 403
        assert "at least one project" in response.json()["message"]


class TestList:
    def test_the_default_order_and_limit(self, api, seven):
        assert names(api.get(REPORTS)) == [f"R{n}" for n in range(7)]

    @pytest.mark.parametrize(
        "params, expected",
        [
            ({"limit": 1}, ["R0"]),
            ({"limit": 2, "offset": 5}, ["R5", "R6"]),
            ({"offset": 6}, ["R6"]),
            ({"offset": 7}, []),
            ({"offset": 1000}, []),
            ({"limit": 500}, [f"R{n}" for n in range(7)]),
        ],
    )
    def test_paging(self, api, seven, params, expected):
        assert names(api.get(REPORTS, params)) == expected

    @pytest.mark.parametrize(
        "params, message",
        [
            ({"limit": 0}, "limit: Ensure this value is greater than or equal to 1."),
            ({"limit": 501}, "limit: Ensure this value is less than or equal to 500."),
            ({"limit": "ten"}, "limit: A valid integer is required."),
            ({"offset": -1}, "offset: Ensure this value is greater than or equal to 0."),
            ({"offset": 2**40}, "offset: Ensure this value is less than or equal to"),
            ({"sortBy": "size"}, 'sortBy: "size" is not a valid choice.'),
            ({"sortOrder": "up"}, 'sortOrder: "up" is not a valid choice.'),
            ({"search": "a\x00b"}, "search: Null characters are not allowed."),
        ],
    )
    def test_bad_paging_and_sorting_are_400(self, api, seven, params, message):
        response = api.get(REPORTS, params)
        assert response.status_code == 400
        assert (
            response.json() == {"code": 400, "message": message}
            or message in (response.json()["message"])
        )

    @pytest.mark.parametrize(
        "field, column",
        [
            ("name", "name"),
            ("createdAt", "created_at"),
            ("createdBy", "created_by"),
            ("status", "status"),
        ],
    )
    def test_sorting_both_ways(self, api, seven, field, column):
        Report.objects.filter(name__in=["R1", "R4"]).update(status=ReportStatus.FAILED)
        for order, prefix in (("asc", ""), ("desc", "-")):
            expected = list(
                Report.objects.order_by(f"{prefix}{column}", f"{prefix}pk").values_list(
                    "name", flat=True
                )
            )
            assert names(api.get(REPORTS, {"sortBy": field, "sortOrder": order})) == expected

    def test_search_covers_name_description_and_creator(self, api, seven):
        Report.objects.filter(name="R3").update(description="Quarterly GPUs")
        assert names(api.get(REPORTS, {"search": "quarterly"})) == ["R3"]
        assert names(api.get(REPORTS, {"search": "alice@"})) == ["R5", "R6"]
        assert names(api.get(REPORTS, {"search": "r2"})) == ["R2"]

    def test_count_follows_filter_and_search(self, api, seven):
        assert api.get(f"{REPORTS}/count").json() == {"count": 7}
        response = api.get(f"{REPORTS}/count", {"filterBy": "createdBy==sa:robot"})
        assert response.json() == {"count": 5}
        assert api.get(f"{REPORTS}/count", {"search": "alice"}).json() == {"count": 2}

    def test_availability(self, api):
        assert api.get(f"{REPORTS}/availability").json() == {"isAvailable": True}


class TestOneReport:
    def test_get(self, api, seven):
        report = seven[2]
        response = api.get(f"{REPORTS}/{report.pk}")
        assert response.status_code == 200
        assert response.json()["id"] == str(report.pk)
        assert set(response.json()) == FIELDS

    def test_an_unknown_id_is_404_and_a_malformed_one_400(self, api, seven):
        response = api.get(f"{REPORTS}/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "Report not found."}
        response = api.get(f"{REPORTS}/not-a-uuid")
        assert response.status_code == 400
        assert response.json()["message"] == "reportId: Not a report id (a UUID)."

    def test_delete_is_204_and_removes_the_file(
        self, api, robot, usage, media, django_capture_on_commit_callbacks
    ):
        report = ready_report(robot, "Built")
        path = media / report.file.name
        with django_capture_on_commit_callbacks(execute=True):
            response = api.delete(f"{REPORTS}/{report.pk}")
        assert response.status_code == 204
        assert not Report.objects.filter(pk=report.pk).exists()
        assert not path.exists()

    def test_deleting_what_one_may_only_see_is_403(self, api, seven):
        alices = seven[5]
        response = api.delete(f"{REPORTS}/{alices.pk}")
        assert response.status_code == 403
        assert response.json() == {"code": 403, "message": "You may not delete: R5."}
        assert Report.objects.filter(pk=alices.pk).exists()

    def test_the_file_once_ready(self, api, robot, usage):
        report = ready_report(robot, "Built")
        response = api.get(f"{REPORTS}/{report.pk}/file")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        with report.file.open("rb") as file:
            assert b"".join(response.streaming_content) == file.read()

    def test_the_file_of_a_report_not_ready_is_409(self, api, seven):
        response = api.get(f"{REPORTS}/{seven[0].pk}/file")
        assert response.status_code == 409
        assert response.json() == {
            "code": 409,
            "message": "The report is Pending; its file can be downloaded once Ready.",
        }


class TestBatchDelete:
    def test_it_deletes_what_it_may_and_says_why_not_for_the_rest(self, api, seven):
        mine, alices, unknown = seven[0], seven[5], str(uuid.uuid4())
        ids = [str(mine.pk), str(alices.pk), unknown, "nonsense", str(mine.pk)]
        response = api.post(f"{REPORTS}/batch-delete", {"ids": ids}, format="json")
        assert response.status_code == 202
        assert response.json() == {
            "accepted": [str(mine.pk)],
            "failed": [
                {"id": str(alices.pk), "code": 403, "message": "You may not delete: R5."},
                {"id": unknown, "code": 404, "message": "Report not found."},
                {"id": "nonsense", "code": 400, "message": "Not a report id (a UUID)."},
            ],
            "totalRequested": 4,
            "totalAccepted": 1,
            "totalFailed": 3,
        }
        assert not Report.objects.filter(pk=mine.pk).exists()
        assert Report.objects.count() == 6

    @pytest.mark.parametrize(
        "data", [{}, {"ids": []}, {"ids": "x"}, {"ids": [str(uuid.uuid4())] * 501}]
    )
    def test_a_bad_body_is_400(self, api, data):
        response = api.post(f"{REPORTS}/batch-delete", data, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == 400


class TestSession:
    def test_a_logged_in_browser_may_use_the_api(self, viewer, seven):
        client = Client()
        client.force_login(viewer)
        assert len(client.get(REPORTS).json()["reports"]) == 7

    def test_unsafe_methods_need_csrf(self, viewer, seven, usage):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(viewer)
        response = client.post(REPORTS, body(name="April"), format="json")
        assert response.status_code == 403
        assert "CSRF" in response.json()["message"]
        assert client.delete(f"{REPORTS}/{seven[5].pk}").status_code == 403
        assert Report.objects.count() == 7


class TestElsewhere:
    def test_an_unknown_api_path_is_a_json_404(self, api):
        response = api.get("/api/v1/org-unit/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "Not found."}

    def test_pages_keep_their_html_404(self, client, viewer):
        client.force_login(viewer)
        response = client.get("/analytics/reports/nothing-here/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")

    def test_a_failure_is_a_json_500(self, robot, monkeypatch):
        monkeypatch.setattr("reports.api.views._filtered", lambda request, search: 1 / 0)
        client = bearer(robot)
        client.raise_request_exception = False
        response = client.get(f"{REPORTS}/count")
        assert response.status_code == 500
        assert response.json() == {"code": 500, "message": "Something went wrong."}
