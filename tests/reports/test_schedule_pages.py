"""The Schedules page and its forms and actions (reports.schedule_views): who sees and changes
which schedule, the form's errors beside their fields, the preview of the next runs, pause,
resume, run now, delete. The clock is stopped; every expected time is written out by hand."""

import html as html_module
import re
from datetime import UTC, datetime, time

import pytest
from django.test import Client
from django.urls import reverse

from reports.models import Report, ReportSchedule, RunStatus
from reports.scheduling import run_now
from tests.factories import UserFactory, grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

LIST = reverse("schedules:schedule_list")
NEW = reverse("schedules:schedule_create")
NEW_PREVIEW = reverse("schedules:schedule_create_preview")
# Actions on one schedule, all POST.
ACTIONS = ["schedule_pause", "schedule_resume", "schedule_run_now", "schedule_delete"]

FORM = {
    "name": "Research weekly",
    "description": "GPUs of research",
    "group_by": "Department",
    "departments": ["research"],
    "bucket": "Day",
    "time_zone": "Europe/Paris",
    "costs": "on",
    "frequency": "weekly",
    "weekday": "0",
    "schedule_time_zone": "Europe/Paris",
    "run_at": "07:30",
    "name_template": "{name} {period}",
    "keep_last": "4",
    "catch_up_limit": "2",
}


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Wednesday 2026-11-11 12:00 UTC."""
    time_machine.move_to(datetime(2026, 11, 11, 12, tzinfo=UTC), tick=False)


def schedule_of(owner, name: str, **fields) -> ReportSchedule:
    fields = {"frequency": "daily", "run_at": time(6), **fields}
    schedule = ReportSchedule(tenant_id=owner.tenant_id, name=name, **fields)
    schedule.set_owner(owner)
    schedule.full_clean()
    schedule.save()
    return schedule


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name: str, schedule: ReportSchedule) -> str:
    return reverse(f"schedules:{name}", args=[schedule.pk])


def table_rows(html: str) -> list[list[str]]:
    """The cells' text of each row of the page's first table body."""
    body = html.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return [
        [
            " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


@pytest.fixture
def bobs(researcher):
    """bob's schedule: bob is a researcher of vision only."""
    return schedule_of(researcher, "Bob's daily")


class TestList:
    def test_a_tenant_wide_viewer_sees_every_schedule_with_its_state(self, viewer, bobs):
        own = schedule_of(viewer, "Alice's monthly", frequency="monthly", day_of_month=26)
        run_now(own)  # 26 September to 25 October, made now
        ReportSchedule.objects.filter(pk=bobs.pk).pause("Paused by bob@acme.example.")

        response = logged_in(viewer).get(LIST)

        assert response.status_code == 200
        assert table_rows(response.content.decode()) == [
            [
                "Alice's monthly",
                "Monthly from the 26th, at 06:00 UTC",
                "2026-11-26 06:00 UTC",
                "Made",
                "No",
                "alice@acme.example",
            ],
            [
                "Bob's daily",
                "Daily, at 06:00 UTC",
                "–",
                "–",
                "Yes Paused by bob@acme.example.",
                "bob@acme.example",
            ],
        ]

    def test_a_project_researcher_sees_only_their_own(self, viewer, bobs):
        schedule_of(viewer, "Alice's daily")

        response = logged_in(bobs.owner).get(LIST)

        assert [row[0] for row in table_rows(response.content.decode())] == ["Bob's daily"]

    def test_another_tenants_schedules_do_not_show(self, charlie, bobs):
        grant(charlie, "System administrator", charlie.tenant)

        response = logged_in(charlie).get(LIST)

        assert "Bob&#x27;s daily" not in response.content.decode()
        assert "No schedules yet." in response.content.decode()

    def test_it_needs_a_login(self, client):
        response = client.get(LIST)

        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


class TestCreate:
    def test_it_saves_the_schedule_owned_by_the_user(self, viewer, org):
        response = logged_in(viewer).post(NEW, FORM)

        schedule = ReportSchedule.objects.get()
        assert response.status_code == 302
        assert response.url == url("schedule_detail", schedule)
        assert (
            schedule.owner,
            schedule.tenant_id,
            schedule.description,
            schedule.group_by,
            schedule.filter_by,
            schedule.bucket,
            schedule.time_zone,
            schedule.costs,
            schedule.frequency,
            schedule.weekday,
            schedule.day_of_month,
            schedule.schedule_time_zone,
            schedule.run_at,
            schedule.keep_last,
            schedule.catch_up_limit,
        ) == (
            viewer,
            viewer.tenant_id,
            "GPUs of research",
            "Department",
            ["departmentName==research"],
            "Day",
            "Europe/Paris",
            True,
            "weekly",
            0,
            None,
            "Europe/Paris",
            time(7, 30),
            4,
            2,
        )

    def test_the_form_offers_only_what_the_user_may_read(self, researcher, org):
        response = logged_in(researcher).get(NEW)

        form = response.context["form"]
        assert form["projects"].field.choices == [("vision", "vision")]
        assert form["departments"].field.choices == [("research", "research")]
        # A new schedule starts monthly from the 1st: December's report on 1 December.
        assert response.context["preview"].runs[0][0].label == "2026-11"

    @pytest.mark.parametrize(
        "fields, field, message",
        [
            ({"weekday": ""}, "weekday", "Choose the day each week starts on."),
            (
                {"name_template": "{name}"},
                "name_template",
                "Include {period}, so that each period's report has a name of its own.",
            ),
            ({"name": " "}, "name", "This field is required."),
            ({"keep_last": "0"}, "keep_last", "Ensure this value is greater than or equal to 1."),
            ({"run_at": "25:00"}, "run_at", "Enter a valid time."),
            ({"projects": ["infra"]}, "projects", None),
        ],
    )
    def test_bad_input_is_named_beside_its_field_and_kept(
        self, researcher, org, fields, field, message
    ):
        response = logged_in(researcher).post(NEW, {**FORM, "departments": [], **fields})

        assert response.status_code == 400
        form = response.context["form"]
        assert list(form.errors) == [field]
        if message:
            assert form.errors[field] == [message]
        assert form["description"].value() == "GPUs of research"
        assert not ReportSchedule.objects.exists()

    def test_a_name_the_tenant_uses_is_named_beside_the_name(self, viewer, bobs):
        response = logged_in(viewer).post(NEW, {**FORM, "name": "BOB'S DAILY"})

        assert response.status_code == 400
        assert response.context["form"].errors == {
            "name": ['A schedule named "BOB\'S DAILY" already exists.']
        }
        assert ReportSchedule.objects.count() == 1

    def test_a_user_who_may_read_no_project_may_not(self, alice, org):
        client = logged_in(alice)

        assert client.get(NEW).status_code == 403
        assert client.post(NEW, FORM).status_code == 403
        assert not ReportSchedule.objects.exists()


class TestPreview:
    def test_it_shows_the_next_runs_of_the_form_as_it_is(self, viewer, org):
        response = logged_in(viewer).get(NEW_PREVIEW, FORM)

        assert response.status_code == 200
        # Weeks from Monday in Paris: week 46 (9 to 15 November) is made on Monday 16th at
        # 07:30 local time; the clocks do not change before the year's end.
        assert table_rows(response.content.decode()) == [
            ["2026-W46", "2026-11-16 07:30 Europe/Paris", "Research weekly 2026-W46"],
            ["2026-W47", "2026-11-23 07:30 Europe/Paris", "Research weekly 2026-W47"],
            ["2026-W48", "2026-11-30 07:30 Europe/Paris", "Research weekly 2026-W48"],
            ["2026-W49", "2026-12-07 07:30 Europe/Paris", "Research weekly 2026-W49"],
            ["2026-W50", "2026-12-14 07:30 Europe/Paris", "Research weekly 2026-W50"],
        ]

    def test_a_fiscal_month_across_a_clock_change(self, viewer, org):
        fields = {
            **FORM,
            "frequency": "monthly",
            "day_of_month": "26",
            "schedule_time_zone": "America/New_York",
            "run_at": "06:00",
            "name_template": "GPUs {period}",
        }

        response = logged_in(viewer).get(NEW_PREVIEW, fields)

        rows = table_rows(response.content.decode())
        assert rows[:2] == [
            # 26 October to 25 November: made on 26 November at 06:00 EST (11:00 UTC).
            [
                "2026-10-26 – 2026-11-25",
                "2026-11-26 06:00 America/New_York",
                "GPUs 2026-10-26 – 2026-11-25",
            ],
            [
                "2026-11-26 – 2026-12-25",
                "2026-12-26 06:00 America/New_York",
                "GPUs 2026-11-26 – 2026-12-25",
            ],
        ]

    def test_a_recurrence_with_errors_says_them(self, viewer, org):
        response = logged_in(viewer).get(NEW_PREVIEW, {**FORM, "weekday": ""})

        assert "Choose the day each week starts on." in response.content.decode()
        assert "<tbody" not in response.content.decode()

    def test_without_a_name_the_runs_are_shown_without_their_reports_names(self, viewer, org):
        response = logged_in(viewer).get(NEW_PREVIEW, {**FORM, "name": ""})

        assert table_rows(response.content.decode())[0] == [
            "2026-W46",
            "2026-11-16 07:30 Europe/Paris",
            "–",
        ]

    def test_an_existing_schedules_preview_leaves_out_what_run_now_made(self, viewer, org):
        schedule = schedule_of(viewer, "Daily", run_at=time(18))
        run_now(schedule)  # 10 November's, not due before 18:00 on the 11th
        fields = {**FORM, "frequency": "daily", "schedule_time_zone": "UTC", "run_at": "18:00"}

        response = logged_in(viewer).get(url("schedule_preview", schedule), fields)

        assert [row[0] for row in table_rows(response.content.decode())] == [
            "2026-11-11",
            "2026-11-12",
            "2026-11-13",
            "2026-11-14",
            "2026-11-15",
        ]


class TestEdit:
    def test_the_owner_changes_it(self, researcher, bobs, org):
        client = logged_in(researcher)
        assert client.get(url("schedule_edit", bobs)).context["form"]["name"].value() == (
            "Bob's daily"
        )

        response = client.post(
            url("schedule_edit", bobs), {**FORM, "departments": [], "projects": ["vision"]}
        )

        assert response.status_code == 302
        bobs.refresh_from_db()
        assert (bobs.name, bobs.frequency, bobs.filter_by, bobs.owner) == (
            "Research weekly",
            "weekly",
            ["projectName==vision"],
            researcher,
        )

    def test_a_viewer_may_see_but_not_change_anothers(self, viewer, bobs):
        client = logged_in(viewer)

        assert client.get(url("schedule_detail", bobs)).status_code == 200
        assert client.get(url("schedule_edit", bobs)).status_code == 403
        assert client.post(url("schedule_edit", bobs), FORM).status_code == 403
        for action in ACTIONS:
            assert client.post(url(action, bobs)).status_code == 403, action
        bobs.refresh_from_db()
        assert (bobs.name, bobs.paused, bobs.runs.count()) == ("Bob's daily", False, 0)

    def test_who_may_delete_the_tenants_reports_may_change_anothers(self, tenant, bobs):
        admin = UserFactory(email="admin@acme.example", tenant=tenant)
        grant(admin, "System administrator", tenant)

        response = logged_in(admin).post(url("schedule_pause", bobs))

        assert response.status_code == 302
        bobs.refresh_from_db()
        assert (bobs.paused, bobs.paused_reason) == (True, "Paused by admin@acme.example.")

    @pytest.mark.parametrize(
        "page", ["schedule_detail", "schedule_edit", "schedule_preview", "schedule_delete"]
    )
    def test_another_tenants_schedule_is_not_found(self, charlie, bobs, page):
        grant(charlie, "System administrator", charlie.tenant)

        assert logged_in(charlie).get(url(page, bobs)).status_code == 404

    @pytest.mark.parametrize("action", [*ACTIONS, "schedule_edit"])
    def test_another_tenants_schedule_cannot_be_changed(self, charlie, bobs, action):
        grant(charlie, "System administrator", charlie.tenant)

        assert logged_in(charlie).post(url(action, bobs), FORM).status_code == 404
        bobs.refresh_from_db()
        assert (bobs.name, bobs.paused, bobs.runs.count()) == ("Bob's daily", False, 0)


class TestActions:
    def test_pause_and_resume(self, researcher, bobs):
        client = logged_in(researcher)

        client.post(url("schedule_pause", bobs))
        bobs.refresh_from_db()
        assert (bobs.paused, bobs.paused_reason) == (True, "Paused by bob@acme.example.")
        page = client.get(url("schedule_detail", bobs)).content.decode()
        assert "Paused: Paused by bob@acme.example." in page

        client.post(url("schedule_resume", bobs))
        bobs.refresh_from_db()
        assert (bobs.paused, bobs.paused_reason) == (False, "")

    def test_run_now_makes_a_report_shown_in_the_history(self, researcher, bobs):
        client = logged_in(researcher)

        response = client.post(url("schedule_run_now", bobs), follow=True)

        report = Report.objects.get()
        assert (report.name, report.created_by_user) == ("Bob's daily 2026-11-10", researcher)
        page = html_module.unescape(response.content.decode())
        assert 'Report "Bob\'s daily 2026-11-10" is in the queue.' in page
        history = page.split('id="runs-table"')[1]
        assert table_rows(history) == [
            [
                "2026-11-10",
                "Made run now",
                "",
                "Bob's daily 2026-11-10 Pending",
                "–",
                "2026-11-11 12:00",
            ]
        ]
        assert reverse("reports:report_detail", args=[report.pk]) in history

    def test_a_failed_run_now_says_why(self, researcher, bobs):
        researcher.access_rules.all().delete()
        admin = UserFactory(email="admin@acme.example", tenant=researcher.tenant)
        grant(admin, "System administrator", researcher.tenant)

        response = logged_in(admin).post(url("schedule_run_now", bobs), follow=True)

        message = (
            "The owner, bob@acme.example, may read no project any more, so can make no report."
        )
        assert f"No report was made: {message}" in response.content.decode()
        assert bobs.runs.get().status == RunStatus.FAILED
        assert not Report.objects.exists()

    def test_delete_asks_first_then_keeps_the_reports(self, researcher, bobs):
        client = logged_in(researcher)
        run_now(bobs)

        confirm = client.get(url("schedule_delete", bobs))
        assert confirm.status_code == 200
        assert ReportSchedule.objects.exists()
        response = client.post(url("schedule_delete", bobs))

        assert response.url == LIST
        assert not ReportSchedule.objects.exists()
        assert list(Report.objects.values_list("name", flat=True)) == ["Bob's daily 2026-11-10"]

    @pytest.mark.parametrize("action", ["schedule_pause", "schedule_resume", "schedule_run_now"])
    def test_actions_are_posts(self, researcher, bobs, action):
        assert logged_in(researcher).get(url(action, bobs)).status_code == 405

    @pytest.mark.parametrize("action", [*ACTIONS, "schedule_edit"])
    def test_every_form_needs_its_csrf_token(self, researcher, bobs, action):
        client = Client(enforce_csrf_checks=True)
        client.force_login(researcher)

        assert client.post(url(action, bobs), FORM).status_code == 403
        assert client.post(NEW, FORM).status_code == 403
        bobs.refresh_from_db()
        assert (bobs.name, bobs.paused, bobs.runs.count()) == ("Bob's daily", False, 0)
