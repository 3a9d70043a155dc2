"""Run again (the same settings, the next free name) and Duplicate (the form filled in), from a
report's page and the table; and the report page's status, which follows the build."""

from datetime import timedelta

import pytest
from django.urls import reverse

from reports.models import Report, ReportStatus
from reports.services import create_report, free_name
from tests.factories import grant
from tests.reports.conftest import MARCH, ready_report

RUN_AGAIN = reverse("reports:report_run_again")
NEW = reverse("reports:report_create")

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]


@pytest.fixture
def march(viewer, usage):
    return create_report(
        viewer,
        name="March",
        description="For the review",
        start=MARCH[0] + timedelta(hours=6),
        end=MARCH[1],
        group_by="Department",
        filter_by=["projectName==vision", "departmentName==research"],
        bucket="Week",
        time_zone="Europe/Paris",
        costs=True,
    )


class TestFreeName:
    def test_the_next_number(self, viewer, march):
        assert free_name(march.tenant_id, "March") == "March (2)"
        create_report(viewer, name="MARCH (2)", start=MARCH[0], end=MARCH[1])
        assert free_name(march.tenant_id, "March") == "March (3)"
        assert free_name(march.tenant_id, "March (2)") == "March (3)"
        assert free_name(march.tenant_id, "April") == "April (2)"

    def test_a_long_name_stays_within_the_limit(self, viewer, usage):
        long_name = "x" * 250
        create_report(viewer, name=long_name, start=MARCH[0], end=MARCH[1])
        name = free_name(viewer.tenant_id, long_name)
        assert len(name) == 250 and name.endswith("x (2)")
        # The shortened name with its number is taken too: the next number.
        create_report(viewer, name=name.upper(), start=MARCH[0], end=MARCH[1])
        assert free_name(viewer.tenant_id, long_name) == "x" * 246 + " (3)"


class TestRunAgain:
    def test_a_new_report_with_the_same_settings_is_queued(
        self, client, viewer, march, no_queue, django_capture_on_commit_callbacks
    ):
        client.force_login(viewer)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(RUN_AGAIN, {"ids": [march.pk]})
        assert response.status_code == 302
        again = Report.objects.get(name="March (2)")
        fields = ["description", "start", "end", "group_by", "filter_by", "tenant_id"]
        fields += ["bucket", "time_zone", "costs"]
        assert [getattr(again, f) for f in fields] == [getattr(march, f) for f in fields]
        assert again.status == ReportStatus.PENDING and again.pk != march.pk
        assert no_queue == [again.pk]
        messages = [str(m) for m in response.wsgi_request._messages]
        assert messages == ["In the queue: 'March (2)'."]

    def test_several_at_once_from_the_table(self, client, viewer, march, usage):
        other = ready_report(viewer, "Other")
        client.force_login(viewer)
        client.post(RUN_AGAIN, {"ids": [march.pk, other.pk]})
        assert {"March (2)", "Other (2)"} <= set(Report.objects.values_list("name", flat=True))

    def test_a_report_the_user_may_not_see_is_not_found(self, client, researcher, march):
        client.force_login(researcher)
        assert client.post(RUN_AGAIN, {"ids": [march.pk]}).status_code == 404
        assert Report.objects.count() == 1

    def test_another_tenants_report_is_not_found(self, client, charlie, march):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        assert client.post(RUN_AGAIN, {"ids": [march.pk]}).status_code == 404
        assert Report.objects.count() == 1

    def test_the_reports_page_offers_it(self, client, viewer, march):
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[march.pk])).content.decode()
        assert f'action="{RUN_AGAIN}"' in html
        assert f'href="{NEW}?from={march.pk}"' in html


class TestDuplicate:
    def test_the_form_is_filled_in(self, client, viewer, march):
        client.force_login(viewer)
        form = client.get(NEW, {"from": march.pk}).context["form"]
        assert form.initial == {
            "name": "March (2)",
            "description": "For the review",
            "start_date": MARCH[0].date(),
            # The period ends at midnight on 1 April: its last day is 31 March.
            "end_date": (MARCH[1] - timedelta(days=1)).date(),
            "group_by": "Department",
            "clusters": [],
            "departments": ["research"],
            "projects": ["vision"],
            "bucket": "Week",
            "time_zone": "Europe/Paris",
            "costs": True,
        }

    def test_another_tenants_report_fills_in_nothing(self, client, charlie, march, other_org):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        response = client.get(NEW, {"from": march.pk})
        assert response.status_code == 200
        # The blank form, with its default period.
        assert set(response.context["form"].initial) == {"start_date", "end_date"}
        assert "For the review" not in response.content.decode()

    @pytest.mark.parametrize("source", ["nonsense", "", "00000000-0000-0000-0000-000000000000"])
    def test_a_bad_source_gives_the_blank_form(self, client, viewer, march, source):
        client.force_login(viewer)
        response = client.get(NEW, {"from": source})
        assert response.status_code == 200
        assert set(response.context["form"].initial) == {"start_date", "end_date"}

    def test_from_the_table_the_one_selected_report(self, client, viewer, march, usage):
        client.force_login(viewer)
        response = client.post(reverse("reports:report_duplicate"), {"ids": [march.pk]})
        assert response.status_code == 302
        assert response["Location"] == f"{NEW}?from={march.pk}"
        other = ready_report(viewer, "Other")
        response = client.post(
            reverse("reports:report_duplicate"), {"ids": [march.pk, other.pk]}, follow=True
        )
        assert "Select one report to duplicate." in response.content.decode()

    def test_from_the_table_a_report_the_user_may_not_see_is_not_found(
        self, client, researcher, march
    ):
        client.force_login(researcher)
        response = client.post(reverse("reports:report_duplicate"), {"ids": [march.pk]})
        assert response.status_code == 404


class TestLiveStatus:
    def test_a_report_being_built_asks_again(self, client, viewer, march):
        client.force_login(viewer)
        url = reverse("reports:report_status", args=[march.pk])
        response = client.get(url)
        assert response.status_code == 200
        assert f'hx-get="{url}"' in response.content.decode()
        page = client.get(reverse("reports:report_detail", args=[march.pk])).content.decode()
        assert f'hx-get="{url}"' in page

    def test_a_settled_report_reloads_the_page(self, client, viewer, usage):
        ready = ready_report(viewer, "Done")
        client.force_login(viewer)
        response = client.get(reverse("reports:report_status", args=[ready.pk]))
        assert response["HX-Refresh"] == "true"
        page = client.get(reverse("reports:report_detail", args=[ready.pk])).content.decode()
        assert "hx-get" not in page.split('id="report-status"')[1].split(">")[0]

    def test_another_tenants_report_is_not_found(self, client, charlie, march):
        client.force_login(charlie)
        assert client.get(reverse("reports:report_status", args=[march.pk])).status_code == 404
