"""The report schedules API (ours, issue 16): create, read, change, pause, resume, run now, the
runs, delete; camelCase fields; the reports API's errors; who may see and change a schedule;
another tenant's schedule not found. The clock is stopped, and every expected time written out
by hand."""

from datetime import UTC, datetime, time

import pytest
from rest_framework.test import APIClient

from reports.models import Report, ReportSchedule, RunStatus, ScheduleRun
from reports.scheduling import run_now
from tests.api.conftest import bearer, service_account
from tests.factories import grant

SCHEDULES = "/api/v1/org-unit/report-schedules"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_queue")]

WEEKLY = {
    "name": "Weekly GPUs",
    "frequency": "weekly",
    "weekday": 0,
    "scheduleTimeZone": "Europe/Paris",
    "runAt": "07:30",
    "groupBy": "Department",
    "filterBy": ["departmentName==research"],
}


@pytest.fixture(autouse=True)
def clock(time_machine):
    """Wednesday 2026-11-11 12:00 UTC."""
    time_machine.move_to(datetime(2026, 11, 11, 12, tzinfo=UTC), tick=False)


def schedule_of(owner, name: str, **fields) -> ReportSchedule:
    schedule = ReportSchedule(
        tenant_id=owner.tenant_id, name=name, frequency="daily", run_at=time(6), **fields
    )
    schedule.set_owner(owner)
    schedule.full_clean()
    schedule.save()
    return schedule


@pytest.fixture
def carols(tenant, org):
    """A schedule of carol, a service account of acme who researches vision only."""
    carol = service_account(tenant, "carol", role=None)
    grant(carol, "L1 researcher", org["vision"])
    return schedule_of(carol, "Carol's daily")


class TestCreate:
    def test_it_is_made_with_the_fields_sent_and_owned_by_the_caller(self, api, robot):
        response = api.post(SCHEDULES, WEEKLY, format="json")

        assert response.status_code == 201, response.json()
        schedule = ReportSchedule.objects.get()
        assert response.json() == {
            "id": str(schedule.pk),
            "tenantId": robot.tenant_id,
            "name": "Weekly GPUs",
            "description": "",
            "groupBy": "Department",
            "filterBy": ["departmentName==research"],
            "bucket": None,
            "timeZone": "UTC",
            "costs": False,
            "frequency": "weekly",
            "weekday": 0,
            "dayOfMonth": None,
            "scheduleTimeZone": "Europe/Paris",
            "runAt": "07:30",
            "nameTemplate": "{name} {period}",
            "keepLast": 12,
            "catchUpLimit": 3,
            "paused": False,
            "pausedReason": "",
            "owner": "sa:robot",
            "createdAt": "2026-11-11T12:00:00Z",
            # Week 46 (9 to 15 November) is due on Monday 16 November at 07:30 in Paris (CET).
            "nextRunAt": "2026-11-16T06:30:00Z",
        }
        assert schedule.owner == robot

    def test_without_a_recurrence_it_is_monthly_from_the_1st(self, api):
        response = api.post(SCHEDULES, {"name": "Monthly"}, format="json")

        assert response.status_code == 201, response.json()
        body = response.json()
        assert (body["frequency"], body["dayOfMonth"], body["runAt"], body["nextRunAt"]) == (
            "monthly",
            1,
            "06:00",
            "2026-12-01T06:00:00Z",
        )

    @pytest.mark.parametrize(
        "fields, message",
        [
            ({"weekday": None}, "weekday: Choose the day each week starts on."),
            (
                {"nameTemplate": "{name}"},
                "nameTemplate: Include {period}, so that each period's report has a name of "
                "its own.",
            ),
            (
                {"scheduleTimeZone": "Mars/Olympus"},
                "scheduleTimeZone: Unknown time zone 'Mars/Olympus': give an IANA name such as "
                "UTC, Europe/Paris or America/New_York.",
            ),
            ({"name": "  "}, "name: Enter a name."),
            ({"runAt": "7h30"}, None),
            ({"keepLast": 0}, "keepLast: Ensure this value is greater than or equal to 1."),
            ({"filterBy": ["project==a"]}, None),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field_as_sent(self, api, fields, message):
        response = api.post(SCHEDULES, {**WEEKLY, **fields}, format="json")

        assert response.status_code == 400
        body = response.json()
        assert body["code"] == 400
        if message:
            assert body["message"] == message
        else:
            assert body["message"].startswith(f"{next(iter(fields))}: ")
        assert not ReportSchedule.objects.exists()

    def test_a_name_the_tenant_uses_is_a_409(self, api, carols):
        response = api.post(SCHEDULES, {**WEEKLY, "name": "CAROL'S DAILY"}, format="json")

        assert response.status_code == 409
        assert response.json() == {
            "code": 409,
            "message": 'A schedule named "CAROL\'S DAILY" already exists.',
        }

    def test_a_caller_who_may_read_no_project_may_not(self, tenant, org):
        nobody = service_account(tenant, "nobody", role=None)

        response = bearer(nobody).post(SCHEDULES, WEEKLY, format="json")

        assert response.status_code == 403
        assert response.json()["message"] == (
            "You need read access to at least one project to schedule reports."
        )


class TestWhoSeesWhat:
    def test_a_tenant_wide_viewer_sees_every_schedule_of_the_tenant(self, api, robot, carols):
        own = schedule_of(robot, "Robot's daily")

        response = api.get(SCHEDULES)

        assert [s["id"] for s in response.json()["schedules"]] == [str(carols.pk), str(own.pk)]

    def test_a_project_researcher_sees_only_its_own(self, robot, carols):
        schedule_of(robot, "Robot's daily")

        response = bearer(carols.owner).get(SCHEDULES)

        assert [s["id"] for s in response.json()["schedules"]] == [str(carols.pk)]

    def test_a_viewer_may_read_but_not_change_anothers(self, api, carols):
        assert api.get(f"{SCHEDULES}/{carols.pk}").status_code == 200
        assert api.get(f"{SCHEDULES}/{carols.pk}/runs").status_code == 200
        refused = [
            api.patch(f"{SCHEDULES}/{carols.pk}", {"name": "Mine"}, format="json"),
            api.delete(f"{SCHEDULES}/{carols.pk}"),
            api.post(f"{SCHEDULES}/{carols.pk}/pause"),
            api.post(f"{SCHEDULES}/{carols.pk}/resume"),
            api.post(f"{SCHEDULES}/{carols.pk}/run-now"),
        ]

        assert [response.status_code for response in refused] == [403] * 5
        assert refused[0].json() == {
            "code": 403,
            "message": "Only its owner, sa:carol, may change this schedule.",
        }
        carols.refresh_from_db()
        assert (carols.name, carols.paused, carols.runs.count()) == ("Carol's daily", False, 0)

    def test_a_project_researcher_does_not_find_anothers(self, robot, carols):
        robots = schedule_of(robot, "Robot's daily")

        response = bearer(carols.owner).get(f"{SCHEDULES}/{robots.pk}")

        assert response.status_code == 404

    def test_who_may_delete_the_tenants_reports_may_change_anothers(self, tenant, carols):
        admin = service_account(tenant, "admin", role="System administrator")

        response = bearer(admin).patch(f"{SCHEDULES}/{carols.pk}", {"keepLast": 2}, format="json")

        assert response.status_code == 200, response.json()
        carols.refresh_from_db()
        assert (carols.keep_last, carols.owner_name) == (2, "sa:carol")


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
    def test_another_tenants_schedules_are_not_found(self, outsider, carols):
        assert outsider.get(SCHEDULES).json() == {"schedules": []}
        responses = [
            outsider.get(f"{SCHEDULES}/{carols.pk}"),
            outsider.get(f"{SCHEDULES}/{carols.pk}/runs"),
            outsider.patch(f"{SCHEDULES}/{carols.pk}", {"name": "Ours"}, format="json"),
            outsider.post(f"{SCHEDULES}/{carols.pk}/pause"),
            outsider.post(f"{SCHEDULES}/{carols.pk}/resume"),
            outsider.post(f"{SCHEDULES}/{carols.pk}/run-now"),
            outsider.delete(f"{SCHEDULES}/{carols.pk}"),
        ]

        assert [response.json() for response in responses] == [
            {"code": 404, "message": "Report schedule not found."}
        ] * 7
        carols.refresh_from_db()
        assert (carols.name, carols.paused, carols.runs.count()) == ("Carol's daily", False, 0)

    def test_a_schedule_is_made_in_the_callers_tenant(self, intruder, other_org, carols):
        response = bearer(intruder).post(SCHEDULES, {"name": "Carol's daily"}, format="json")

        assert response.status_code == 201, response.json()
        assert response.json()["tenantId"] == intruder.tenant_id
        assert ReportSchedule.objects.filter(name="Carol's daily").count() == 2

    def test_without_credentials_it_is_a_401(self, carols):
        response = APIClient().get(SCHEDULES)

        assert response.status_code == 401
        assert response.json()["code"] == 401

    def test_a_sessions_changes_need_its_csrf_token(self, viewer, org):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(viewer)

        response = client.post(SCHEDULES, WEEKLY, format="json")

        assert response.status_code == 403
        assert "CSRF" in response.json()["message"]
        assert not ReportSchedule.objects.exists()


class TestChanges:
    def test_patch_changes_only_the_fields_sent(self, api, robot):
        schedule = schedule_of(robot, "Daily", description="kept", keep_last=4)

        response = api.patch(
            f"{SCHEDULES}/{schedule.pk}",
            {"frequency": "monthly", "dayOfMonth": 26, "bucket": "Day"},
            format="json",
        )

        assert response.status_code == 200, response.json()
        schedule.refresh_from_db()
        assert (
            schedule.frequency,
            schedule.day_of_month,
            schedule.bucket,
            schedule.description,
            schedule.keep_last,
        ) == ("monthly", 26, "Day", "kept", 4)
        # The fiscal month of 26 October to 25 November is due on 26 November at 06:00 UTC.
        assert response.json()["nextRunAt"] == "2026-11-26T06:00:00Z"

    def test_pause_and_resume(self, api, robot):
        schedule = schedule_of(robot, "Daily")

        paused = api.post(f"{SCHEDULES}/{schedule.pk}/pause")
        resumed = api.post(f"{SCHEDULES}/{schedule.pk}/resume")

        assert (paused.status_code, resumed.status_code) == (200, 200)
        assert (paused.json()["paused"], paused.json()["pausedReason"]) == (
            True,
            "Paused by sa:robot.",
        )
        assert paused.json()["nextRunAt"] is None
        assert (resumed.json()["paused"], resumed.json()["nextRunAt"]) == (
            False,
            "2026-11-12T06:00:00Z",  # 11 November's report
        )

    def test_run_now_makes_the_last_complete_periods_report(self, api, robot, org):
        schedule = schedule_of(robot, "Daily")

        response = api.post(f"{SCHEDULES}/{schedule.pk}/run-now")

        assert response.status_code == 202, response.json()
        report = Report.objects.get()
        run = ScheduleRun.objects.get()
        assert response.json() == {
            "id": run.pk,
            "period": "2026-11-10",
            "periodStart": "2026-11-10T00:00:00Z",
            "periodEnd": "2026-11-11T00:00:00Z",
            "status": "Made",
            "message": "",
            "reportId": str(report.pk),
            "runNow": True,
            "createdAt": "2026-11-11T12:00:00Z",
            "deliveries": [],  # until the report is Ready
        }
        assert (report.name, report.created_by) == ("Daily 2026-11-10", "sa:robot")
        runs = api.get(f"{SCHEDULES}/{schedule.pk}/runs").json()
        assert runs == {"runs": [response.json()]}

    def test_a_run_now_whose_owner_lost_the_projects_fails_and_pauses(self, api, tenant, org):
        owner = service_account(tenant, "owner", role=None)
        rule = grant(owner, "L1 researcher", org["vision"])
        schedule = schedule_of(owner, "Daily")
        rule.delete()
        admin = service_account(tenant, "admin", role="System administrator")

        response = bearer(admin).post(f"{SCHEDULES}/{schedule.pk}/run-now")

        assert response.status_code == 202
        assert (response.json()["status"], response.json()["reportId"]) == (RunStatus.FAILED, None)
        message = "The owner, sa:owner, may read no project any more, so can make no report."
        assert response.json()["message"] == message
        schedule.refresh_from_db()
        assert (schedule.paused, schedule.paused_reason) == (True, message)

    def test_runs_are_paged_latest_first(self, api, robot, org):
        schedule = schedule_of(robot, "Daily")
        for day in (12, 13, 14):
            run_now(schedule, now=datetime(2026, 11, day, 12, tzinfo=UTC))

        response = api.get(f"{SCHEDULES}/{schedule.pk}/runs", {"offset": 1, "limit": 1})
        assert response.status_code == 200, response.json()

        assert [run["period"] for run in response.json()["runs"]] == ["2026-11-12"]
        assert [run.period_label for run in schedule.runs.order_by("pk")] == [
            "2026-11-11",
            "2026-11-12",
            "2026-11-13",
        ]

    def test_delete_keeps_the_reports_it_made(self, api, robot, org):
        schedule = schedule_of(robot, "Daily")
        api.post(f"{SCHEDULES}/{schedule.pk}/run-now")

        response = api.delete(f"{SCHEDULES}/{schedule.pk}")

        assert response.status_code == 204
        assert not ReportSchedule.objects.exists()
        assert not ScheduleRun.objects.exists()
        assert list(Report.objects.values_list("name", flat=True)) == ["Daily 2026-11-10"]

    def test_a_malformed_id_is_a_400(self, api):
        response = api.get(f"{SCHEDULES}/not-a-uuid")

        assert response.json() == {
            "code": 400,
            "message": "scheduleId: Not a schedule id (a UUID).",
        }
