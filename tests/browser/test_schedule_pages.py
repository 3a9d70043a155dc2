"""The Schedules page in a real browser: create a schedule, its preview of the next runs following
the form as it changes; pause and resume it; run it now and watch its report, built by a real
worker, in the history; add a webhook to deliver its reports to."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from reports.models import DeliveryTarget, Report, ReportSchedule
from tests.browser.conftest import log_in, screenshot
from tests.worker import start_worker, stop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def next_weeks_from_monday(now: datetime, run_at: time, count: int) -> list[list[str]]:
    """The preview's rows of a weekly schedule from Monday in UTC, worked out with dates alone:
    each ISO week, made on the Monday after it at `run_at`, those due after `now`."""
    monday = now.date() - timedelta(days=now.weekday())
    weeks = [monday + timedelta(weeks=n) for n in range(-1, count + 1)]
    rows = []
    for first_day in weeks:
        due = datetime.combine(first_day + timedelta(days=7), run_at, tzinfo=UTC)
        if due > now:
            year, week, _ = first_day.isocalendar()
            label = f"{year}-W{week:02d}"
            rows.append([label, f"{due:%Y-%m-%d %H:%M} UTC", f"Weekly GPUs {label}"])
    return rows[:count]


def next_first_of_a_month() -> date:
    """When a monthly schedule from the 1st at 06:00 UTC makes its next report."""
    now = datetime.now(UTC)
    if now.day == 1 and now.hour < 6:
        return now.date()
    return (now.date().replace(day=1) + timedelta(days=32)).replace(day=1)


def preview_rows(page: Page) -> list[list[str]]:
    return [
        row.locator("th, td").all_inner_texts()
        for row in page.locator("#schedule-preview tbody tr").all()
    ]


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def daily_schedule(owner) -> ReportSchedule:
    schedule = ReportSchedule(
        tenant_id=owner.tenant_id, name="Daily GPUs", frequency="daily", run_at=time(6)
    )
    schedule.set_owner(owner)
    schedule.full_clean()
    schedule.save()
    return schedule


class TestSchedulesInABrowser:
    def test_create_a_schedule_with_its_preview(self, page, viewer, org):
        log_in(page, viewer.email)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Schedules").click()
        expect(page.get_by_text("No schedules yet.")).to_be_visible()
        page.get_by_role("link", name="+ New schedule").click()

        # A new schedule is monthly from the 1st: the preview says so before anything is typed.
        first_row = page.locator("#schedule-preview tbody tr").first
        expect(first_row.locator("td").first).to_have_text(f"{next_first_of_a_month()} 06:00 UTC")

        page.get_by_role("textbox", name="Name", exact=True).fill("Weekly GPUs")
        # Only the day that the frequency uses is asked for.
        expect(page.get_by_label("Day of the month")).to_be_visible()
        expect(page.get_by_label("Weekday")).to_be_hidden()
        page.get_by_label("Frequency").select_option("weekly")
        expect(page.get_by_label("Day of the month")).to_be_hidden()
        expect(page.get_by_label("Weekday")).to_be_visible()
        expect(page.locator("#schedule-preview")).to_contain_text(
            "Choose the day each week starts on."
        )
        with page.expect_request("**/preview/**") as preview:
            page.get_by_label("Weekday").select_option("Monday")
        # The form's fields, but not its CSRF token, which stays out of URLs (and their logs).
        assert "weekday=0" in preview.value.url
        assert "csrfmiddlewaretoken" not in preview.value.url
        page.get_by_label("Run at").fill("07:30")
        page.get_by_label("Run at").blur()
        now = datetime.now(UTC)
        expected = next_weeks_from_monday(now, time(7, 30), 5)
        # Once the preview has followed the last change, the time:
        expect(page.locator("#schedule-preview tbody td").first).to_have_text(expected[0][1])
        assert preview_rows(page) == expected
        screenshot(page, "schedule-form-preview")

        # Bad input: named beside its field, and what was typed is kept.
        page.get_by_label("Names of its reports").fill("{name}")
        page.get_by_label("vision").check()
        page.get_by_role("button", name="Create schedule").click()
        expect(page.locator(".field-error")).to_have_text(
            ["Include {period}, so that each period's report has a name of its own."]
        )
        expect(page.get_by_role("textbox", name="Name", exact=True)).to_have_value("Weekly GPUs")
        expect(page.get_by_label("vision")).to_be_checked()

        page.get_by_label("Names of its reports").fill("{name} {period}")
        page.get_by_role("button", name="Create schedule").click()
        expect(page.get_by_role("heading", name="Weekly GPUs")).to_be_visible()
        expect(page.get_by_text("Schedule 'Weekly GPUs' created.")).to_be_visible()
        schedule = ReportSchedule.objects.get()
        assert (schedule.frequency, schedule.weekday, schedule.run_at, schedule.filter_by) == (
            "weekly",
            0,
            time(7, 30),
            ["projectName==vision"],
        )

        page.get_by_role("link", name="Schedules", exact=True).first.click()
        expect(page.locator("#schedules-table tbody td")).to_have_text(
            [
                "Weekly GPUs",
                "Weekly from Monday, at 07:30 UTC",
                expected[0][1],
                "–",
                "No",
                viewer.email,
            ]
        )

    def test_pause_and_resume(self, page, viewer, org):
        schedule = daily_schedule(viewer)
        log_in(page, viewer.email)
        page.goto(f"/analytics/schedules/{schedule.pk}/")
        state = page.locator("#schedule-state")
        expect(state).to_have_text("Active")

        page.get_by_role("button", name="Pause").click()
        expect(state).to_have_text(f"Paused: Paused by {viewer.email}.")
        expect(page.get_by_role("heading", name="Next runs")).to_have_count(0)
        page.get_by_role("button", name="Resume").click()
        expect(state).to_have_text("Active")
        expect(page.get_by_role("heading", name="Next runs")).to_be_visible()
        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason) == (False, "")

    def test_add_a_webhook_target_and_see_it_listed(self, page, viewer, org):
        schedule = daily_schedule(viewer)
        log_in(page, viewer.email)
        page.goto(f"/analytics/schedules/{schedule.pk}/")
        targets = page.locator("#targets-table tbody tr")
        expect(targets).to_have_text(["Its reports are sent nowhere: they are in Reports."])

        # Only the field of the kind chosen is asked for.
        form = page.locator("#target-form")
        form.get_by_label("Kind").select_option("webhook")
        expect(form.get_by_label("Recipients")).to_be_hidden()
        expect(form.get_by_label("Key prefix")).to_be_hidden()
        form.get_by_label("URL").fill("hooks example")
        form.get_by_role("button", name="Add target").click()
        expect(form.get_by_text("Enter a valid URL.")).to_be_visible()
        expect(form.get_by_label("URL")).to_have_value("hooks example")
        assert not DeliveryTarget.objects.exists()

        form.get_by_label("URL").fill("https://hooks.example/gpu")
        form.get_by_role("button", name="Add target").click()

        expect(
            page.get_by_text("Reports will be sent to Webhook: https://hooks.example/gpu.")
        ).to_be_visible()
        target = schedule.targets.get()
        expect(targets).to_have_count(1)
        cells = targets.first.locator("th, td")
        expect(cells.nth(0)).to_have_text("Webhook")
        expect(cells.nth(1)).to_have_text("https://hooks.example/gpu")
        expect(cells.nth(2)).to_have_text("Yes")
        expect(cells.nth(3).locator("code")).to_have_text(target.secret)

        targets.first.get_by_role("button", name="Disable").click()
        expect(cells.nth(2)).to_have_text("No")
        screenshot(page, "schedule-targets")

    def test_run_now_makes_a_report_shown_in_the_history(self, page, viewer, usage, media):
        schedule = daily_schedule(viewer)
        log_in(page, viewer.email)
        page.goto(f"/analytics/schedules/{schedule.pk}/")
        expect(page.get_by_text("No runs yet.")).to_be_visible()

        page.get_by_role("button", name="Run now").click()
        name = f"Daily GPUs {yesterday()}"
        expect(page.get_by_text(f"Report '{name}' is in the queue.")).to_be_visible()
        history = page.locator("#runs-table tbody tr")
        expect(history).to_have_count(1)
        expect(history.locator("th")).to_have_text(str(yesterday()))
        expect(history.get_by_role("link", name=name)).to_be_visible()
        expect(history.locator(".badge")).to_have_text(["Made", "Pending"])

        worker = start_worker(media, "manage.py", "qcluster")
        try:
            report = Report.objects.get(name=name)
            for _ in range(120):
                report.refresh_from_db()
                if report.is_settled:
                    break
                page.wait_for_timeout(500)
        finally:
            stop(worker)
        page.reload()
        expect(history.locator(".badge")).to_have_text(["Made", "Ready"])
        screenshot(page, "schedule-history")
        history.get_by_role("link", name=name).click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
        expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
