"""A report's page and its download (spec 4.3, 4.4)."""

import importlib

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.urls import reverse

from reports.models import Report
from reports.services import create_report
from tests.factories import grant
from tests.reports.conftest import MARCH, ready_report

pytestmark = pytest.mark.usefixtures("no_queue")


@pytest.fixture
def ready(viewer, usage):
    return ready_report(viewer, "March: GPUs")


@pytest.fixture
def pending(viewer, usage):
    return create_report(viewer, name="Later", start=MARCH[0], end=MARCH[1])


@pytest.mark.django_db
class TestReportDetail:
    def test_it_shows_the_fields_and_the_first_rows(self, client, viewer, ready):
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[ready.pk])).content.decode()
        assert "<h1>March: GPUs</h1>" in html
        # All rows, read from the file (tests/reports/test_report_rows.py has the details).
        assert '<a href="?sort=3">GPU allocation hours</a>' in html
        assert "<td>vision</td>" in html
        assert reverse("reports:report_download", args=[ready.pk]) in html

    def test_a_chart_shows_the_segments_with_the_most_gpu_hours_first(self, client, viewer, ready):
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[ready.pk]))
        bars = [(bar.label, bar.text, bar.percent) for bar in response.context["chart"]]
        # One hour on 8, 4, 2 and 1 GPUs (see the usage fixture), none of it idle.
        assert bars == [
            ("west / training / llm", "8.00 h, 0.0% idle", 100.0),
            ("east / ops / infra", "4.00 h, 0.0% idle", 50.0),
            ("east / research / nlp", "2.00 h, 0.0% idle", 25.0),
            ("east / research / vision", "1.00 h, 0.0% idle", 12.5),
        ]
        html = response.content.decode()
        assert "Top projects by GPU allocation hours" in html
        assert '<rect class="bar" width="12.5%"' in html

    def test_the_page_shows_what_the_build_kept_without_reading_the_file(
        self, client, viewer, ready
    ):
        default_storage.delete(ready.file.name)
        client.force_login(viewer)
        response = client.get(reverse("reports:report_detail", args=[ready.pk]))
        assert response.status_code == 200
        assert [bar.label for bar in response.context["chart"]][0] == "west / training / llm"
        assert "<td>vision</td>" in response.content.decode()

    def test_reports_built_before_are_summarised_from_their_files_as_the_build_does(
        self, viewer, ready
    ):
        kept = ready.summary
        Report.objects.filter(pk=ready.pk).update(summary={})
        migration = importlib.import_module("reports.migrations.0007_report_summary")

        migration.summarise_built_reports(apps, None)

        ready.refresh_from_db()
        assert ready.summary == kept
        assert len(kept["preview"]) == 5  # the header and the four projects of the fixture

    def test_a_pending_report_has_no_preview_or_download(self, client, viewer, pending):
        client.force_login(viewer)
        html = client.get(reverse("reports:report_detail", args=[pending.pk])).content.decode()
        assert "Pending" in html
        assert "Download CSV" not in html

    def test_another_tenants_report_is_not_found(self, client, charlie, ready):
        grant(charlie, "System administrator", charlie.tenant)
        client.force_login(charlie)
        assert client.get(reverse("reports:report_detail", args=[ready.pk])).status_code == 404
        assert client.get(reverse("reports:report_download", args=[ready.pk])).status_code == 404

    def test_a_report_the_user_may_not_see_is_not_found(self, client, researcher, ready):
        client.force_login(researcher)
        assert client.get(reverse("reports:report_detail", args=[ready.pk])).status_code == 404

    def test_the_page_is_in_the_table(self, client, viewer, ready):
        client.force_login(viewer)
        html = client.get(reverse("reports:report_list")).content.decode()
        assert reverse("reports:report_detail", args=[ready.pk]) in html

    def test_no_get_changes_anything_and_post_is_refused(self, client, viewer, ready):
        client.force_login(viewer)
        url = reverse("reports:report_detail", args=[ready.pk])
        assert client.post(url).status_code == 405


@pytest.mark.django_db
class TestReportDownload:
    def test_it_downloads_the_csv_under_the_slugified_name(self, client, viewer, ready):
        client.force_login(viewer)
        response = client.get(reverse("reports:report_download", args=[ready.pk]))
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="march-gpus.csv"'
        body = b"".join(response.streaming_content).decode()
        assert body.startswith("Cluster,Department,Project,GPU allocation hours,")

    def test_a_report_that_is_not_ready_answers_409_with_a_message(self, client, viewer, pending):
        client.force_login(viewer)
        response = client.get(reverse("reports:report_download", args=[pending.pk]))
        assert response.status_code == 409
        assert "can be downloaded once it is Ready" in response.content.decode()

    def test_login_is_required(self, client, ready):
        response = client.get(reverse("reports:report_download", args=[ready.pk]))
        assert response.status_code == 302
