"""axe-core (from the axe-playwright-python package, run inside Chromium by Playwright) finds no
accessibility violation on the pages an analyst uses, in the states they meet them in."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from reports.models import ReportSchedule
from reports.scheduling import run_now
from reports.services import create_report
from tests.browser.conftest import log_in, screenshot
from tests.consumption.samples import sample, save_samples
from tests.reports.conftest import MARCH, ready_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Axe()


def assert_accessible(page: Page, what: str) -> None:
    results = AXE.run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


@pytest.fixture
def reports(viewer, usage, no_queue, org):
    # A second day of usage, so that the report's page draws its daily chart too.
    save_samples(sample(org["vision"], "2026-03-12T10:00Z", 3600, gpu=2))
    ready = ready_report(viewer, "March GPUs")
    create_report(viewer, name="Still waiting", start=MARCH[0], end=MARCH[1])
    return ready


def test_the_login_page(page, db):
    page.goto("/")
    expect(page.get_by_label("E-mail")).to_be_visible()
    assert_accessible(page, "login page")


def test_the_table_with_its_menus_open(page, viewer, reports):
    log_in(page, viewer.email)
    assert_accessible(page, "reports table")
    for menu in ["#add-filter", "#columns-menu"]:
        page.locator(f"{menu} > summary").click()
        assert_accessible(page, f"reports table, {menu} open")
        page.keyboard.press("Escape")


def test_the_form_with_errors(page, viewer, reports):
    log_in(page, viewer.email)
    page.get_by_role("link", name="+ New report").click()
    assert_accessible(page, "new-report form")
    page.get_by_label("Name").fill("")
    page.get_by_role("button", name="Create report").click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert_accessible(page, "new-report form with errors")


def test_a_reports_page(page, viewer, reports):
    log_in(page, viewer.email)
    page.goto(f"/analytics/reports/{reports.pk}/")
    expect(page.get_by_role("figure", name="GPU allocation hours per day")).to_be_visible()
    page.get_by_text("The same as a table").click()
    assert_accessible(page, "a report's page, its daily chart's table open")
    screenshot(page, "report-page-daily-chart")


def test_the_delete_dialog(page, viewer, reports):
    log_in(page, viewer.email)
    page.locator("#reports-table tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Delete…").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_accessible(page, "delete dialog")


@pytest.fixture
def schedule(viewer, usage, no_queue):
    """A daily schedule of alice's that has made a report, and one that is paused."""
    made = ReportSchedule(tenant_id=viewer.tenant_id, name="Daily GPUs", frequency="daily")
    made.set_owner(viewer)
    made.full_clean()
    made.save()
    run_now(made)
    paused = ReportSchedule(
        tenant_id=viewer.tenant_id, name="Resting", frequency="quarterly", paused=True
    )
    paused.set_owner(viewer)
    paused.paused_reason = "Paused by alice@acme.example."
    paused.save()
    return made


def test_the_schedules_page(page, viewer, schedule):
    log_in(page, viewer.email)
    page.goto("/analytics/schedules/")
    expect(page.locator("#schedules-table")).to_be_visible()
    assert_accessible(page, "schedules page")


def test_the_schedule_form_with_errors_and_its_preview(page, viewer, schedule):
    log_in(page, viewer.email)
    page.goto("/analytics/schedules/new/")
    expect(page.locator("#schedule-preview tbody tr")).to_have_count(5)
    assert_accessible(page, "new-schedule form")
    page.get_by_label("Frequency").select_option("weekly")
    expect(page.locator("#schedule-preview")).to_contain_text("Choose the day each week")
    page.get_by_role("button", name="Create schedule").click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert_accessible(page, "new-schedule form with errors")


def test_a_schedules_page_with_its_history(page, viewer, schedule):
    log_in(page, viewer.email)
    page.goto(f"/analytics/schedules/{schedule.pk}/")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    assert_accessible(page, "a schedule's page")
    page.get_by_role("link", name="Delete…").click()
    assert_accessible(page, "a schedule's delete page")
