"""Tenant isolation on every endpoint: another tenant's service account and users get 404 for
acme's reports and never see them in lists, counts, searches or files."""

import pytest
from rest_framework.test import APIClient

from reports.models import Report
from tests.api.conftest import bearer
from tests.factories import grant
from tests.reports.conftest import ready_report

REPORTS = "/api/v1/org-unit/reports"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


@pytest.fixture
def acme_report(robot, usage):
    return ready_report(robot, "Acme secret plans", description="acme only")


@pytest.fixture(params=["service account", "user"])
def outsider(request, intruder, charlie) -> APIClient:
    """globex's service account or user, with every permission in globex."""
    if request.param == "service account":
        return bearer(intruder)
    grant(charlie, "System administrator", charlie.tenant)
    client = APIClient()
    client.force_login(charlie)
    return client


class TestIsolation:
    def test_lists_counts_and_searches_show_nothing_of_acme(self, outsider, acme_report):
        for params in ({}, {"search": "acme"}, {"filterBy": "name=@secret"}, {"limit": 500}):
            assert outsider.get(REPORTS, params).json() == {"reports": []}
            assert outsider.get(f"{REPORTS}/count", params).json() == {"count": 0}

    @pytest.mark.parametrize("path", ["{}", "{}/file"])
    def test_reading_is_404(self, outsider, acme_report, path):
        response = outsider.get(f"{REPORTS}/" + path.format(acme_report.pk))
        assert response.status_code == 404
        assert response.json() == {"code": 404, "message": "Report not found."}

    def test_deleting_is_404(self, outsider, acme_report):
        response = outsider.delete(f"{REPORTS}/{acme_report.pk}")
        assert response.status_code == 404
        response = outsider.post(
            f"{REPORTS}/batch-delete", {"ids": [str(acme_report.pk)]}, format="json"
        )
        assert response.json()["failed"] == [
            {"id": str(acme_report.pk), "code": 404, "message": "Report not found."}
        ]
        assert Report.objects.filter(pk=acme_report.pk).exists()

    def test_their_own_reports_live_in_their_tenant(self, intruder, other_org, acme_report):
        response = bearer(intruder).post(
            REPORTS,
            {
                "name": "Acme secret plans",
                "start": "2026-03-01T00:00:00Z",
                "end": "2026-04-01T00:00:00Z",
            },
            format="json",
        )
        # The same name is free in another tenant, and the report is globex's.
        assert response.status_code == 202
        assert response.json()["tenantId"] == intruder.tenant_id != acme_report.tenant_id
        assert bearer(intruder).get(f"{REPORTS}/count").json() == {"count": 1}
