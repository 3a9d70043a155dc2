"""A Ready report whose period reaches past what the tenant's usage sources have collected says
so, on its page and in the API's statusMessage, so that nobody takes hours not yet collected
for idle ones (issue 11)."""

from datetime import datetime

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import UsageSourceFactory
from tests.reports.conftest import MARCH, ready_report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]
MID_MARCH = datetime.fromisoformat("2026-03-15T06:00Z")
MESSAGE = (
    "Usage collected up to 2026-03-15 06:00 UTC: the later hours of the period are not in this "
    "report yet."
)


def source(cluster, until: datetime | None, **fields):
    return UsageSourceFactory(
        tenant=cluster.tenant,
        cluster=cluster,
        start=datetime.fromisoformat("2026-03-01T00:00Z"),
        collected_until=until,
        **fields,
    )


def test_a_period_past_what_was_collected_says_up_to_when(viewer, usage):
    source(usage["east"], MID_MARCH)
    source(usage["west"], MARCH[1])
    report = ready_report(viewer, "March")
    assert (report.status, report.status_message) == ("Ready", MESSAGE)


def test_a_period_wholly_collected_says_nothing(viewer, usage):
    source(usage["east"], MARCH[1])
    assert ready_report(viewer, "March").status_message == ""


def test_without_usage_sources_nothing_is_said(viewer, usage):
    assert ready_report(viewer, "March").status_message == ""


def test_a_source_never_collected_counts_from_its_first_hour(viewer, usage):
    source(usage["east"], None)
    assert ready_report(viewer, "March").status_message == (
        "Usage collected up to 2026-03-01 00:00 UTC: the later hours of the period are not in "
        "this report yet."
    )


def test_disabled_sources_and_clusters_filtered_out_do_not_count(viewer, usage):
    source(usage["east"], MID_MARCH, enabled=False)
    source(usage["west"], MID_MARCH)
    assert ready_report(viewer, "All").status_message == MESSAGE
    only_east = ready_report(viewer, "East", filter_by=[f"clusterId=={usage['east'].uuid}"])
    assert only_east.status_message == ""


def test_the_page_and_the_api_show_it(viewer, usage, client):
    source(usage["east"], MID_MARCH)
    report = ready_report(viewer, "March")
    client.force_login(viewer)
    page = client.get(reverse("reports:report_detail", args=[report.pk]))
    assert MESSAGE in page.content.decode()
    api = APIClient()
    api.force_authenticate(viewer)
    body = api.get(f"/api/v1/org-unit/reports/{report.pk}").json()
    assert (body["status"], body["statusMessage"]) == ("Ready", MESSAGE)
