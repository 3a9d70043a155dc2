"""An analyst's session in a real browser: log in, create a report and watch it become Ready,
filter, search, sort, choose columns, download and delete."""

import csv
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from reports.csv_export import header
from reports.models import Report
from reports.services import create_report
from reports.tasks import build_report
from tests.browser.conftest import log_in, screenshot
from tests.consumption.samples import sample, save_samples
from tests.reports.conftest import MARCH, ready_report
from tests.reports.readers import assert_parquet_matches_csv, assert_xlsx_matches_csv
from tests.worker import start_worker, stop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def reports(viewer, researcher, usage, no_queue):
    """Three of alice's reports (two Ready, one Pending) and one of bob's."""
    made = {
        "Alpha clusters": ready_report(viewer, "Alpha clusters", group_by="Cluster"),
        "Beta projects": ready_report(viewer, "Beta projects", group_by="Project"),
    }
    made["Gamma later"] = create_report(
        viewer, name="Gamma later", description="waits", start=MARCH[0], end=MARCH[1]
    )
    made["Vision only"] = create_report(
        researcher, name="Vision only", start=MARCH[0], end=MARCH[1]
    )
    return made


@pytest.fixture(params=[False, True], ids=["DEBUG off", "DEBUG on"])
def debug(request, settings):
    """Both modes: `make run` serves with DEBUG on, where django-htmx adds its debug handler of
    htmx's error answers."""
    settings.DEBUG = request.param
    return request.param


def csv_rows(download) -> list[list[str]]:
    return list(csv.reader(Path(download.path()).read_text(encoding="utf-8").splitlines()))


def stored(report: Report) -> bytes:
    with report.file.open("rb") as file:
        return file.read()


def table_names(page: Page) -> list[str]:
    return page.locator("#reports-table tbody th").all_inner_texts()


def lines_of_dates(page: Page) -> list[int]:
    """How many lines the text of each date cell of the table takes."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#reports-table td.nowrap')).map(td => {
            const range = document.createRange();
            range.selectNodeContents(td);
            return range.getClientRects().length;
        })"""
    )


def row(page: Page, name: str):
    return page.locator("#reports-table tbody tr").filter(has=page.get_by_role("link", name=name))


class TestReportsInABrowser:
    def test_create_a_report_and_watch_it_become_ready(self, page, viewer, usage, media):
        log_in(page, viewer.email)
        expect(page.get_by_text("No reports yet. Create one with + New report.")).to_be_visible()
        page.get_by_role("link", name="+ New report").click()

        # Bad input: errors beside their fields, and what was typed is kept.
        page.get_by_label("Name").fill("   ")
        page.get_by_label("Start date").fill("2026-03-10")
        page.get_by_label("End date").fill("2026-03-01")
        page.get_by_role("button", name="Create report").click()
        expect(page.locator(".field-error").first).to_be_visible()
        expect(page.get_by_label("Start date")).to_have_value("2026-03-10")
        screenshot(page, "report-form-errors")

        page.get_by_label("Name").fill("March GPUs")
        page.get_by_label("End date").fill("2026-03-31")
        page.get_by_role("button", name="Create report").click()
        page.wait_for_url("**/analytics/reports/")
        expect(page.get_by_text("Report 'March GPUs' is in the queue.")).to_be_visible()
        status = row(page, "March GPUs").locator(".badge")
        expect(status).to_have_text("Pending")

        # The row updates itself once a real worker has built the report: no reload, and the
        # row stays selected, now with its CSV to download.
        page.evaluate("window.notReloaded = true")
        checkbox = row(page, "March GPUs").get_by_role("checkbox")
        checkbox.check()
        expect(page.locator("#download-selected")).to_be_disabled()
        worker = start_worker(media, "manage.py", "qcluster")
        try:
            expect(status).to_have_text("Ready", timeout=60_000)
        finally:
            stop(worker)
        assert page.evaluate("window.notReloaded") is True
        expect(checkbox).to_be_checked()
        expect(page.locator("#download-selected")).to_be_enabled()
        assert Report.objects.get(name="March GPUs").is_ready
        screenshot(page, "reports-table")

    def test_filter_search_and_sort(self, page, viewer, reports):
        log_in(page, viewer.email)
        assert sorted(table_names(page)) == sorted(reports)

        page.get_by_text("Add filter").click()
        page.locator("#filter-status summary").click()
        page.locator("#filter-status").get_by_label("Ready").check()
        page.locator("#filter-status").get_by_role("button", name="Apply").click()
        expect(page.locator(".chip")).to_have_text(re.compile(r"Status:\s*Ready"))
        assert sorted(table_names(page)) == ["Alpha clusters", "Beta projects"]

        page.get_by_role("link", name="Remove filter Status: Ready").click()
        expect(page.locator(".chip")).to_have_count(0)
        assert len(table_names(page)) == 4

        page.get_by_label("Search reports").fill("waits")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#reports-table tbody th")).to_have_text(["Gamma later"])
        assert "q=waits" in page.url

        page.goto("/analytics/reports/")
        page.get_by_role("link", name="Report", exact=True).click()
        expect(page.locator("th[aria-sort='ascending']")).to_have_count(1)
        assert table_names(page) == sorted(reports)
        page.get_by_role("link", name="Report", exact=True).click()
        expect(page.locator("th[aria-sort='descending']")).to_have_count(1)
        assert table_names(page) == sorted(reports, reverse=True)

    def test_a_long_table_counts_only_so_far_and_still_reaches_its_end(
        self, page, viewer, reports, monkeypatch
    ):
        # As a tenant with more than 10,000 reports sees it.
        monkeypatch.setattr("reports.views.COUNT_LIMIT", 2)
        log_in(page, viewer.email)
        page.goto("/analytics/reports/?sort=name&per_page=1")
        summary = page.locator(".table-summary")
        expect(summary).to_have_text("More than 2 reports")
        pages = page.get_by_role("navigation", name="Pages")
        expect(pages.get_by_role("link")).to_have_text(["1", "2", "3", "Next", "Last"])

        pages.get_by_role("link", name="Last").click()
        expect(summary).to_have_text("4 reports")
        assert table_names(page) == ["Vision only"]
        pages.get_by_role("link", name="Previous").click()
        expect(page.locator("#reports-table tbody th")).to_have_text(["Gamma later"])

    def test_a_hidden_column_stays_hidden_after_logging_in_again(self, page, viewer, reports):
        log_in(page, viewer.email)
        headers = page.locator("#reports-table thead th")
        expect(headers.filter(has_text="Description")).to_have_count(1)

        page.get_by_text("Columns", exact=True).click()
        page.get_by_role("checkbox", name="Description", exact=True).uncheck()
        page.get_by_role("checkbox", name="Rows", exact=True).check()
        page.get_by_role("button", name="Save").click()
        expect(headers.filter(has_text="Description")).to_have_count(0)
        expect(headers.filter(has_text="Rows")).to_have_count(1)

        page.get_by_role("button", name="Log out").click()
        log_in(page, viewer.email)
        expect(headers.filter(has_text="Description")).to_have_count(0)
        expect(headers.filter(has_text="Rows")).to_have_count(1)

    def test_download_the_csv(self, page, viewer, reports):
        log_in(page, viewer.email)
        download = page.locator("#download-selected")
        expect(download).to_be_disabled()
        row(page, "Gamma later").get_by_role("checkbox").check()
        expect(download).to_be_disabled()  # Gamma is not Ready
        row(page, "Gamma later").get_by_role("checkbox").uncheck()
        row(page, "Alpha clusters").get_by_role("checkbox").check()
        expect(download).to_be_enabled()
        with page.expect_download() as info:
            download.click()
        assert info.value.suggested_filename == "alpha-clusters.csv"
        assert csv_rows(info.value)[0] == header("Cluster")

        page.get_by_role("link", name="Beta projects").click()
        expect(
            page.get_by_role("heading", name="Top projects by GPU allocation hours")
        ).to_be_visible()
        screenshot(page, "report-page")
        with page.expect_download() as info:
            page.get_by_role("link", name="Download CSV").click()
        assert csv_rows(info.value)[0] == header("Project")

    def test_download_excel_and_parquet(self, page, viewer, reports):
        log_in(page, viewer.email)
        excel = page.get_by_role("button", name="Download Excel")
        parquet = page.get_by_role("button", name="Download Parquet")
        expect(excel).to_be_disabled()
        expect(parquet).to_be_disabled()
        row(page, "Gamma later").get_by_role("checkbox").check()
        expect(excel).to_be_disabled()  # Gamma is not Ready
        expect(parquet).to_be_disabled()
        row(page, "Gamma later").get_by_role("checkbox").uncheck()
        row(page, "Alpha clusters").get_by_role("checkbox").check()
        row(page, "Beta projects").get_by_role("checkbox").check()
        with page.expect_download() as info:
            excel.click()
        assert info.value.suggested_filename.endswith(".zip")
        archive = zipfile.ZipFile(info.value.path())
        assert sorted(archive.namelist()) == ["alpha-clusters.xlsx", "beta-projects.xlsx"]
        for name in ["Alpha clusters", "Beta projects"]:
            file_name = name.lower().replace(" ", "-") + ".xlsx"
            assert_xlsx_matches_csv(archive.read(file_name), stored(reports[name]))

        page.get_by_role("link", name="Beta projects").click()
        with page.expect_download() as info:
            page.get_by_role("link", name="Download Parquet").click()
        assert info.value.suggested_filename == "beta-projects.parquet"
        parquet_file = Path(info.value.path()).read_bytes()
        assert_parquet_matches_csv(parquet_file, stored(reports["Beta projects"]))

    def test_delete_with_the_dialog(self, page, viewer, reports):
        log_in(page, viewer.email)
        row(page, "Alpha clusters").get_by_role("checkbox").check()
        row(page, "Gamma later").get_by_role("checkbox").check()
        page.get_by_role("button", name="Delete…").click()
        dialog = page.get_by_role("dialog", name="Delete reports")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Delete these 2 reports and their files?")
        expect(dialog.locator("li")).to_have_text(["Alpha clusters", "Gamma later"])
        screenshot(page, "delete-dialog")

        dialog.get_by_role("button", name="Cancel").click()
        expect(dialog).to_be_hidden()
        assert Report.objects.count() == 4

        page.get_by_role("button", name="Delete…").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
        expect(page.get_by_text("Deleted 2 reports")).to_be_visible()
        assert sorted(table_names(page)) == ["Beta projects", "Vision only"]
        assert set(Report.objects.values_list("name", flat=True)) == {
            "Beta projects",
            "Vision only",
        }

    def test_a_long_name_is_cut_short_in_the_table(self, page, viewer, reports):
        long_name = "GPU" + "x" * 247
        create_report(viewer, name=long_name, start=MARCH[0], end=MARCH[1])
        log_in(page, viewer.email)
        cell = row(page, long_name).locator("th")
        expect(cell).to_have_attribute("title", long_name)
        # The other columns stay on the screen: the table is no wider than its box.
        widths = page.evaluate(
            "[document.querySelector('#reports-table').scrollWidth,"
            " document.querySelector('.table-scroll').clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        assert cell.bounding_box()["width"] < 400
        screenshot(page, "reports-table-long-name")

    def test_the_table_uses_the_screen_and_keeps_dates_on_one_line(self, page, viewer, reports):
        page.set_viewport_size({"width": 1920, "height": 1000})
        log_in(page, viewer.email)
        assert page.locator("#reports-table").bounding_box()["width"] > 1600
        expect(page.locator("#reports-table thead")).to_contain_text("Creation time (UTC)")
        # Each date's text is laid out on one line: one box per text.
        lines = lines_of_dates(page)
        assert lines and set(lines) == {1}, lines
        page.set_viewport_size({"width": 1280, "height": 800})
        assert set(lines_of_dates(page)) == {1}
        screenshot(page, "reports-table")

    def test_a_reports_page_follows_its_build(self, page, viewer, reports):
        log_in(page, viewer.email)
        page.goto(f"/analytics/reports/{reports['Gamma later'].pk}/")
        expect(page.locator("#report-status")).to_contain_text("Pending")
        build_report(str(reports["Gamma later"].pk))
        # Within the next poll the page shows what the report became, without a click.
        expect(page.locator("#report-status")).to_contain_text("Ready")
        expect(page.get_by_role("heading", name="All rows")).to_be_visible()
        expect(page.get_by_role("link", name="Download CSV")).to_be_visible()

    def test_a_reports_page_with_rows_per_day(self, page, viewer, usage, no_queue):
        # Besides an hour on 1, 2, 4 and 8 GPUs on 10 March (the usage fixture), an hour on 2
        # GPUs in vision on 12 March.
        save_samples(sample(usage["vision"], "2026-03-12T10:00Z", 3600, gpu=2, workload="later"))
        report = ready_report(viewer, "Per day", bucket="Day")
        log_in(page, viewer.email)
        page.goto(f"/analytics/reports/{report.pk}/")
        expect(page.locator(".fields")).to_contain_text("Rows per")

        rows = page.locator("table.report-rows")
        period = rows.locator("thead th").first
        expect(period).to_have_text("Period start")
        starts = rows.locator("tbody tr td:first-child")
        expect(starts).to_have_text(["2026-03-10"] * 4 + ["2026-03-12"])
        period.get_by_role("link").click()
        expect(period).to_have_attribute("aria-sort", "ascending")
        period.get_by_role("link").click()  # again: the other way round
        expect(period).to_have_attribute("aria-sort", "descending")
        expect(starts).to_have_text(["2026-03-12"] + ["2026-03-10"] * 4)

        # Each project is one bar, summed over the days: vision has 1 + 2 hours.
        expect(page.locator(".bars .bar-label")).to_have_text(
            ["west / training / llm", "east / ops / infra", "east / research / vision"]
            + ["east / research / nlp"]
        )
        expect(page.locator(".bars .bar-value").nth(2)).to_contain_text("3.00 h")
        figure = page.get_by_role("figure", name="GPU allocation hours per day")
        figure.get_by_text("The same as a table").click()
        table = figure.get_by_role("table")
        expect(table.locator("thead th")).to_have_text(
            ["Period start (UTC)", "west / training / llm", "east / ops / infra"]
            + ["east / research / vision", "east / research / nlp"]
        )
        cells = [row.locator("th, td").all_inner_texts() for row in table.locator("tbody tr").all()]
        assert cells == [
            ["2026-03-10", "8.00", "4.00", "1.00", "2.00"],
            ["2026-03-11", "0.00", "0.00", "0.00", "0.00"],
            ["2026-03-12", "0.00", "0.00", "2.00", "0.00"],
        ]
        screenshot(page, "report-page-rows-per-day")

    def test_run_again_and_duplicate_from_a_reports_page(self, page, viewer, reports):
        log_in(page, viewer.email)
        alpha = f"/analytics/reports/{reports['Alpha clusters'].pk}/"
        page.goto(alpha)
        page.get_by_role("button", name="Run again").click()
        page.wait_for_url("**/analytics/reports/")
        expect(page.get_by_text("In the queue: 'Alpha clusters (2)'.")).to_be_visible()
        expect(row(page, "Alpha clusters (2)")).to_have_count(1)

        page.goto(alpha)
        page.get_by_role("link", name="Duplicate").click()
        expect(page.get_by_label("Name")).to_have_value("Alpha clusters (3)")
        expect(page.get_by_label("Segment by")).to_have_value("Cluster")
        screenshot(page, "report-duplicate-form")
        page.get_by_label("Name").fill("Alpha, once more")
        page.get_by_role("button", name="Create report").click()
        page.wait_for_url("**/analytics/reports/")
        copy = Report.objects.get(name="Alpha, once more")
        original = reports["Alpha clusters"]
        assert (copy.start, copy.end, copy.group_by) == (
            original.start,
            original.end,
            original.group_by,
        )

    def test_a_reports_page_fits_a_phone(self, page, viewer, reports):
        page.set_viewport_size({"width": 390, "height": 844})
        log_in(page, viewer.email)
        page.goto(f"/analytics/reports/{reports['Beta projects'].pk}/")
        expect(page.locator(".chart").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # Every field's value stays inside its box (an e-mail address included).
        overflowing = page.evaluate(
            """() => {
                const card = document.querySelector('.fields').getBoundingClientRect();
                return Array.from(document.querySelectorAll('.fields dd'))
                    .filter(dd => dd.getBoundingClientRect().right > card.right)
                    .map(dd => dd.textContent);
            }"""
        )
        assert overflowing == []
        # Each segment reads in order: its name, then its bar with its hours beside it, then
        # the next segment (no name runs into a value, no value sits beside the next name).
        bars = page.evaluate(
            """() => Array.from(document.querySelectorAll('.bars li')).map(li =>
                ['.bar-label', '.bar-track', '.bar-value'].map(
                    part => li.querySelector(part).getBoundingClientRect().toJSON()))"""
        )
        assert len(bars) == 4
        for (label, track, value), following in zip(bars, [*bars[1:], None], strict=True):
            assert label["bottom"] <= track["top"] and label["bottom"] <= value["top"]
            assert value["top"] < track["bottom"] and track["top"] < value["bottom"]
            assert track["right"] <= value["left"]
            if following:
                assert following[0]["top"] >= max(track["bottom"], value["bottom"])
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "report-page-phone")
        page.set_viewport_size({"width": 1280, "height": 800})
        screenshot(page, "report-page")

    def test_the_form_offers_quick_periods_and_lists_to_search(self, page, viewer, reports):
        log_in(page, viewer.email)
        page.get_by_role("link", name="+ New report").click()
        first_of_month = datetime.now(UTC).date().replace(day=1)
        last_month_end = first_of_month - timedelta(days=1)
        page.get_by_role("button", name="Last month").click()
        expect(page.get_by_label("Start date")).to_have_value(
            last_month_end.replace(day=1).isoformat()
        )
        expect(page.get_by_label("End date")).to_have_value(last_month_end.isoformat())

        projects = page.get_by_role("group", name="Projects")
        expect(projects.get_by_role("checkbox")).to_have_count(4)
        page.get_by_label("Find projects").fill("VIS")
        expect(projects.get_by_role("checkbox", name="vision")).to_be_visible()
        expect(projects.get_by_role("checkbox", name="nlp")).to_be_hidden()
        projects.get_by_role("checkbox", name="vision").check()
        page.get_by_label("Find projects").fill("")
        expect(projects.get_by_role("checkbox", name="nlp")).to_be_visible()
        screenshot(page, "report-form")
        page.get_by_label("Name").fill("Vision, last month")
        page.get_by_role("button", name="Create report").click()
        page.wait_for_url("**/analytics/reports/")
        report = Report.objects.get(name="Vision, last month")
        assert report.filter_by == ["projectName==vision"]
        assert report.start.date() == last_month_end.replace(day=1)
        assert report.end.date() == first_of_month

    def test_duplicate_from_the_table(self, page, viewer, reports):
        log_in(page, viewer.email)
        duplicate = page.locator("#duplicate-selected")
        expect(duplicate).to_be_disabled()
        row(page, "Alpha clusters").get_by_role("checkbox").check()
        row(page, "Beta projects").get_by_role("checkbox").check()
        expect(duplicate).to_be_disabled()  # one report at a time
        row(page, "Beta projects").get_by_role("checkbox").uncheck()
        duplicate.click()
        expect(page.get_by_label("Name")).to_have_value("Alpha clusters (2)")

    def test_escape_closes_the_menus(self, page, viewer, reports):
        log_in(page, viewer.email)
        for menu in ["#add-filter", "#columns-menu"]:
            page.locator(f"{menu} > summary").click()
            expect(page.locator(menu)).to_have_attribute("open", "")
            page.keyboard.press("Escape")
            expect(page.locator(menu)).not_to_have_attribute("open", "")
            expect(page.locator(f"{menu} > summary")).to_be_focused()

    def test_the_delete_dialog_starts_on_cancel(self, page, viewer, reports):
        log_in(page, viewer.email)
        row(page, "Alpha clusters").get_by_role("checkbox").check()
        page.get_by_role("button", name="Delete…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
        page.keyboard.press("Enter")
        expect(dialog).to_be_hidden()
        assert Report.objects.filter(name="Alpha clusters").exists()

    def test_deleting_what_the_user_may_only_see_is_refused(self, page, viewer, reports, debug):
        log_in(page, viewer.email)
        row(page, "Vision only").get_by_role("checkbox").check()
        page.get_by_role("button", name="Delete…").click()
        expect(page.get_by_role("dialog").get_by_text("Nothing was deleted")).to_be_visible()
        # The answer opened the dialog over the page; it did not replace the page.
        expect(page.locator("#reports-table")).to_be_visible()
        assert "Vision only" in table_names(page)
        assert Report.objects.filter(name="Vision only").exists()

    def test_a_polled_row_whose_report_is_deleted_elsewhere_leaves_the_table(
        self, page, viewer, reports, debug
    ):
        log_in(page, viewer.email)
        expect(row(page, "Gamma later")).to_have_count(1)
        Report.objects.filter(name="Gamma later").delete()
        # The row asks for itself every 2 s; its 404 removes it, and nothing else changes.
        expect(row(page, "Gamma later")).to_have_count(0)
        expect(page.locator("#reports-table")).to_be_visible()
        assert sorted(table_names(page)) == ["Alpha clusters", "Beta projects", "Vision only"]

    def test_the_pages_fit_a_phone_and_work_with_the_keyboard(self, page, viewer, reports):
        page.set_viewport_size({"width": 390, "height": 844})
        log_in(page, viewer.email)
        # The page itself never scrolls sideways; only the table's own box may.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "reports-table-phone")

        # Tab from the search box to the Add filter menu, open it with Enter.
        page.get_by_label("Search reports").focus()
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        expect(page.locator("#add-filter")).to_have_attribute("open", "")

        page.get_by_role("link", name="+ New report").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
