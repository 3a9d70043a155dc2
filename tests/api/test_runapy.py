"""The public runapy SDK, unchanged, against a live server: only the base URL and the
credentials differ from a script written for Run:ai."""

import csv
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from runai import models
from runai.api_client import ApiClient
from runai.configuration import Configuration
from runai.exceptions import ApiException
from runai.runai_client import RunaiClient

from consumption.measures import Segment
from reports.api import tokens
from reports.csv_export import header
from reports.models import Report
from reports.services import create_report
from tests.api.conftest import SECRET
from tests.reports.conftest import MARCH
from tests.worker import start_worker, stop

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)


def sdk(live_server, account=None, **config) -> RunaiClient:
    if account is not None:
        config |= {"client_id": account.client_id, "client_secret": SECRET}
    configuration = Configuration(runai_base_url=live_server.url, **config)
    return RunaiClient(ApiClient(configuration))


def request(client: RunaiClient, method: str, url: str, body=None):
    """A plain HTTP request carrying the token the SDK obtained: for what the SDK cannot do
    (read a CSV) or does not offer (batch delete)."""
    data = json.dumps(body).encode() if body is not None else None
    http = urllib.request.Request(url, data=data, method=method)
    http.add_header("Authorization", client.api_client.default_headers["authorization"])
    http.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(http, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def new_report(name: str, **fields) -> models.ReportRequestFields:
    return models.ReportRequestFields(name=name, start=START, end=END, **fields)


class TestRunapy:
    def test_creating_reports_of_each_segment_and_with_filters(self, live_server, robot, org):
        reports = sdk(live_server, robot).organizations.reports
        for group_by in [*Segment.values, None]:
            created = reports.create_report(new_report(f"By {group_by}", group_by=group_by))
            assert created.status_code == 202
            assert created.data["groupBy"] == (group_by or "Project")
            assert created.data["status"] == "Pending"
            assert created.data["createdBy"] == "sa:robot"
        filters = [
            "projectName==vision",
            "projectName==nlp",
            "departmentName==research",
            f"clusterId=={org['east'].uuid}",
        ]
        created = reports.create_report(new_report("Filtered", filter_by=filters))
        assert created.data["filterBy"] == filters
        assert Report.objects.get(name="Filtered").filter_by == filters

    def test_listing_with_filters_sorting_paging_and_search(self, live_server, robot, viewer, org):
        for name in ["Q1, Q2 totals", "Quarter==three", "Idle GPUs", "alpha"]:
            create_report(robot, name=name, start=MARCH[0], end=MARCH[1])
        create_report(viewer, name="Alice's", description="for the board", **_march())
        reports = sdk(live_server, robot).organizations.reports

        def listed(**params) -> list[str]:
            return [r["name"] for r in reports.list_reports(**params).data["reports"]]

        everything = listed()
        assert len(everything) == 5
        # Several conditions, one of them with a comma and one with "==" in its value.
        assert listed(filter_by=["name==Q1, Q2 totals", "createdBy==sa:robot"]) == ["Q1, Q2 totals"]
        assert listed(filter_by=["name==Quarter==three"]) == ["Quarter==three"]
        assert listed(filter_by=["name=^q", "name!@totals"]) == ["Quarter==three"]
        assert listed(filter_by=["createdBy!=sa:robot"]) == ["Alice's"]
        assert listed(sort_by="name", sort_order="desc") == sorted(everything, reverse=True)
        assert listed(sort_by="name", offset=1, limit=2) == sorted(everything)[1:3]
        assert listed(search="board") == ["Alice's"]
        count = reports.count_reports(filter_by=["name=@q"], search="t")
        assert count.data == {"count": 2}
        assert reports.are_reports_available().data == {"isAvailable": True}

    @pytest.mark.slow
    def test_waiting_for_ready_and_downloading_with_the_sdks_token(
        self, live_server, robot, usage, media
    ):
        client = sdk(live_server, robot)
        reports = client.organizations.reports
        report_id = reports.create_report(new_report("Built", group_by="Cluster")).data["id"]
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            deadline = time.monotonic() + 60
            while (status := reports.get_report_by_id(report_id).data["status"]) != "Ready":
                assert status in ("Pending", "Processing") and time.monotonic() < deadline
                time.sleep(0.5)
        finally:
            stop(worker)
        status, headers, content = request(
            client, "GET", f"{live_server.url}/api/v1/org-unit/reports/{report_id}/file"
        )
        assert status == 200
        assert headers["Content-Type"] == "text/csv; charset=utf-8"
        rows = list(csv.reader(content.decode().splitlines()))
        assert rows[0] == header("Cluster")
        assert [row[0] for row in rows[1:]] == ["east", "west"]

    def test_deleting_one_and_a_batch(self, live_server, robot, usage):
        client = sdk(live_server, robot)
        reports = client.organizations.reports
        ids = [reports.create_report(new_report(f"R{n}")).data["id"] for n in range(3)]
        assert reports.delete_report_by_id(ids[0]).status_code == 204
        status, _, content = request(
            client,
            "POST",
            f"{live_server.url}/api/v1/org-unit/reports/batch-delete",
            {"ids": ids},
        )
        assert status == 202
        assert json.loads(content) == {
            "accepted": ids[1:],
            "failed": [{"id": ids[0], "code": 404, "message": "Report not found."}],
            "totalRequested": 3,
            "totalAccepted": 2,
            "totalFailed": 1,
        }
        assert not Report.objects.exists()

    def test_error_paths(self, live_server, robot, intruder, usage):
        reports = sdk(live_server, robot).organizations.reports
        pending = reports.create_report(new_report("Once")).data["id"]
        theirs = create_report(intruder, name="Globex's", **_march())

        def refused(call) -> tuple[int, dict]:
            with pytest.raises(ApiException) as raised:
                call()
            return raised.value.status, raised.value.data

        assert refused(lambda: reports.create_report(new_report("ONCE"))) == (
            409,
            {"code": 409, "message": "A report named 'ONCE' already exists."},
        )
        bad_period = models.ReportRequestFields(name="Backwards", start=END, end=START)
        assert refused(lambda: reports.create_report(bad_period)) == (
            400,
            {"code": 400, "message": "end: The end must be after the start."},
        )
        unknown = "00000000-0000-4000-8000-000000000000"
        not_found = (404, {"code": 404, "message": "Report not found."})
        assert refused(lambda: reports.get_report_by_id(unknown)) == not_found
        assert refused(lambda: reports.get_report_by_id(str(theirs.pk))) == not_found
        assert refused(lambda: reports.delete_report_by_id(str(theirs.pk))) == not_found
        # The SDK reads JSON bodies only: a 409 it can read, a CSV it could not.
        assert refused(lambda: reports.download_report_by_id(pending)) == (
            409,
            {
                "code": 409,
                "message": "The report is Pending; its file can be downloaded once Ready.",
            },
        )

    def test_an_expired_token_is_refused(self, live_server, robot, settings):
        client = sdk(live_server, robot, auto_refresh_token=False, retry_enabled=False)
        settings.API_TOKEN_LIFETIME_SECONDS = -10
        expired, _ = tokens.issue(robot)
        client.api_client.set_default_header("authorization", f"Bearer {expired}")
        reports = client.organizations.reports
        with pytest.raises(ApiException) as raised:
            reports.list_reports()
        assert raised.value.status == 401
        assert raised.value.data == {"code": 401, "message": "The access token has expired."}

    def test_wrong_credentials_get_no_token(self, live_server, robot):
        # The SDK asks for its token as soon as the client is made.
        configuration = Configuration(
            runai_base_url=live_server.url,
            client_id=robot.client_id,
            client_secret="not the secret",
            retry_enabled=False,
        )
        with pytest.raises(
            ValueError, match="'code': 401, 'message': 'Invalid client credentials.'"
        ):
            ApiClient(configuration)


def _march() -> dict:
    return {"start": MARCH[0], "end": MARCH[1]}
