"""+ New report (spec 4.1, 4.4): rules shown beside their fields, input kept, only readable names
offered, and the report Pending in the table right after."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Report, ReportStatus
from tests.factories import TEST_PASSWORD

URL = reverse("reports:report_create")


pytestmark = pytest.mark.usefixtures("no_queue")


def form_data(**overrides):
    data = {
        "name": "March",
        "description": "",
        "start_date": "2026-03-01",
        "end_date": "2026-03-31",
        "group_by": "Project",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestReportCreate:
    def test_it_creates_a_pending_report_and_shows_it_in_the_table(self, client, viewer, usage):
        client.force_login(viewer)
        response = client.post(URL, form_data(projects=["vision"]), follow=True)
        report = Report.objects.get()
        assert response.redirect_chain[-1][0] == reverse("reports:report_list")
        assert (report.status, report.name, report.filter_by) == (
            ReportStatus.PENDING,
            "March",
            ["projectName==vision"],
        )
        # Whole UTC days, the end date included.
        assert report.start == datetime(2026, 3, 1, tzinfo=UTC)
        assert report.end == datetime(2026, 4, 1, tzinfo=UTC)
        html = response.content.decode()
        assert "Report &#x27;March&#x27; is in the queue." in html
        assert ">Pending</span>" in html

    def test_rows_per_week_of_a_zone_with_costs_per_workload(self, client, viewer, usage):
        client.force_login(viewer)
        options = {"bucket": "Week", "time_zone": "Asia/Kolkata", "costs": "on"}
        client.post(URL, form_data(group_by="Workload", **options))
        report = Report.objects.get()
        assert (report.group_by, report.bucket, report.time_zone, report.costs) == (
            "Workload",
            "Week",
            "Asia/Kolkata",
            True,
        )

    def test_the_options_default_to_runais_report(self, client, viewer, usage):
        client.force_login(viewer)
        page = client.get(URL).content.decode()
        assert '<option value="" selected>Whole period</option>' in page
        assert '<option value="UTC" selected>UTC</option>' in page
        client.post(URL, form_data())
        report = Report.objects.get()
        assert (report.bucket, report.time_zone, report.costs) == ("", "UTC", False)

    def test_an_unknown_zone_or_bucket_is_named_and_input_kept(self, client, viewer, usage):
        client.force_login(viewer)
        response = client.post(URL, form_data(name="Kept", bucket="Hour", time_zone="Mars/Base"))
        assert response.status_code == 400
        errors = response.context["form"].errors
        assert set(errors) == {"bucket", "time_zone"}
        assert "Hour is not one of the available choices" in errors["bucket"][0]
        assert 'value="Kept"' in response.content.decode()
        assert not Report.objects.exists()

    def test_errors_show_beside_their_fields_and_input_is_kept(self, client, viewer, usage):
        client.force_login(viewer)
        response = client.post(
            URL, form_data(name="Kept name", start_date="2026-03-31", end_date="2026-03-01")
        )
        assert response.status_code == 400
        assert response.context["form"].errors == {"end_date": ["The end must be after the start."]}
        html = response.content.decode()
        assert 'value="Kept name"' in html
        assert not Report.objects.exists()

    def test_a_duplicate_name_is_shown_on_the_name(self, client, viewer, usage):
        client.force_login(viewer)
        client.post(URL, form_data())
        response = client.post(URL, form_data(name="MARCH"))
        assert response.context["form"].errors == {
            "name": ["A report named 'MARCH' already exists."]
        }

    def test_a_missing_name_and_dates(self, client, viewer, usage):
        client.force_login(viewer)
        response = client.post(URL, form_data(name="", start_date="", end_date="not a date"))
        errors = response.context["form"].errors
        assert set(errors) == {"name", "start_date", "end_date"}

    def test_only_readable_names_are_offered(self, client, researcher, usage):
        client.force_login(researcher)
        form = client.get(URL).context["form"]
        assert form.fields["projects"].choices == [("vision", "vision")]
        assert form.fields["departments"].choices == [("research", "research")]
        response = client.post(URL, form_data(projects=["llm"]))
        assert "Select a valid choice" in response.context["form"].errors["projects"][0]

    def test_a_user_without_a_project_is_forbidden(self, client, bob, usage):
        client.force_login(bob)
        assert client.get(URL).status_code == 403
        assert client.post(URL, form_data()).status_code == 403
        assert not Report.objects.exists()

    def test_csrf_is_required(self, viewer, usage):
        client = Client(enforce_csrf_checks=True)
        client.login(username=viewer.email, password=TEST_PASSWORD)
        assert client.post(URL, form_data()).status_code == 403
        assert not Report.objects.exists()

    def test_login_is_required(self, client):
        assert client.get(URL).status_code == 302


@pytest.mark.django_db
class TestFormChoices:
    def test_a_cluster_filter_offers_the_readable_clusters(self, client, researcher, org, usage):
        client.force_login(researcher)
        form = client.get(URL).context["form"]
        east = str(org["east"].uuid)
        assert form.fields["clusters"].choices == [(east, "east")]
        client.post(URL, form_data(clusters=[east], departments=["research"]))
        assert Report.objects.get().filter_by == [f"clusterId=={east}", "departmentName==research"]
        response = client.post(URL, form_data(name="West", clusters=[str(org["west"].uuid)]))
        assert "Select a valid choice" in response.context["form"].errors["clusters"][0]

    def test_each_cluster_is_offered_once(self, client, viewer, org, usage):
        client.force_login(viewer)
        form = client.get(URL).context["form"]
        assert form.fields["clusters"].choices == [
            (str(org["east"].uuid), "east"),
            (str(org["west"].uuid), "west"),
        ]

    @pytest.mark.parametrize(
        "today, periods",
        [
            (
                "2026-12-02",
                {
                    "Last 7 days": ("2026-11-26", "2026-12-02"),
                    "Last 30 days": ("2026-11-03", "2026-12-02"),
                    "This month": ("2026-12-01", "2026-12-02"),
                    "Last month": ("2026-11-01", "2026-11-30"),
                    "Last quarter": ("2026-07-01", "2026-09-30"),
                },
            ),
            (
                "2027-01-01",
                {
                    "Last 7 days": ("2026-12-26", "2027-01-01"),
                    "Last 30 days": ("2026-12-03", "2027-01-01"),
                    "This month": ("2027-01-01", "2027-01-01"),
                    "Last month": ("2026-12-01", "2026-12-31"),
                    "Last quarter": ("2026-10-01", "2026-12-31"),
                },
            ),
            (
                "2028-03-31",
                {
                    "Last 7 days": ("2028-03-25", "2028-03-31"),
                    "Last 30 days": ("2028-03-02", "2028-03-31"),
                    "This month": ("2028-03-01", "2028-03-31"),
                    "Last month": ("2028-02-01", "2028-02-29"),
                    "Last quarter": ("2027-10-01", "2027-12-31"),
                },
            ),
        ],
    )
    def test_the_quick_periods(self, client, viewer, usage, time_machine, today, periods):
        time_machine.move_to(f"{today}T23:30Z", tick=False)
        client.force_login(viewer)
        response = client.get(URL)
        form = response.context["form"]
        shown = {p["label"]: (str(p["start"]), str(p["end"])) for p in form.presets()}
        assert shown == periods
        # The blank form starts on the first of them, and each is a button that sets both dates.
        assert (str(form.initial["start_date"]), str(form.initial["end_date"])) == periods[
            "Last 7 days"
        ]
        html = response.content.decode()
        for start, end in periods.values():
            assert f'data-preset-start="{start}" data-preset-end="{end}"' in html
