"""A report schedule's own rules (reports.models.ReportSchedule): what full_clean refuses, with a
message naming the field, and what the database refuses."""

from datetime import UTC, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from reports.models import ReportSchedule
from reports.recurrence import Period
from tests.factories import ServiceAccountFactory


def schedule_of(owner, **fields) -> ReportSchedule:
    schedule = ReportSchedule(tenant=owner.tenant, name="GPU usage", **fields)
    schedule.set_owner(owner)
    return schedule


def errors(schedule: ReportSchedule) -> dict:
    with pytest.raises(ValidationError) as error:
        schedule.full_clean()
    return error.value.message_dict


@pytest.mark.django_db
class TestValidation:
    def test_the_defaults_make_a_monthly_schedule_once_a_day_is_chosen(self, alice):
        schedule = schedule_of(alice, day_of_month=1)
        schedule.full_clean()
        assert (
            schedule.frequency,
            schedule.schedule_time_zone,
            schedule.run_at,
            schedule.name_template,
            schedule.keep_last,
            schedule.catch_up_limit,
            schedule.paused,
            schedule.owner_name,
        ) == ("monthly", "UTC", time(6), "{name} {period}", 12, 3, False, "alice@acme.example")

    @pytest.mark.parametrize(
        "fields, field, message",
        [
            ({"frequency": "weekly"}, "weekday", "Choose the day each week starts on."),
            (
                {"frequency": "monthly"},
                "day_of_month",
                "Choose the day each month starts on, 1 to 31.",
            ),
            (
                {"frequency": "monthly", "day_of_month": 32},
                "day_of_month",
                "Ensure this value is less than or equal to 31.",
            ),
            (
                {"frequency": "fortnightly"},
                "frequency",
                "Value 'fortnightly' is not a valid choice.",
            ),
            (
                {"frequency": "daily", "schedule_time_zone": "Mars/Olympus"},
                "schedule_time_zone",
                "Unknown time zone 'Mars/Olympus': give an IANA name such as UTC, Europe/Paris "
                "or America/New_York.",
            ),
            (
                {"frequency": "daily", "time_zone": "Mars/Olympus"},
                "time_zone",
                "Unknown time zone 'Mars/Olympus': give an IANA name such as UTC, Europe/Paris "
                "or America/New_York.",
            ),
            (
                {"frequency": "daily", "filter_by": ["projectName=a"]},
                "filter_by",
                None,  # the report's own message, whatever it says
            ),
            (
                {"frequency": "daily", "keep_last": 0},
                "keep_last",
                "Ensure this value is greater than or equal to 1.",
            ),
            (
                {"frequency": "daily", "catch_up_limit": 0},
                "catch_up_limit",
                "Ensure this value is greater than or equal to 1.",
            ),
            (
                {"frequency": "daily", "name_template": "{name}"},
                "name_template",
                "Include {period}, so that each period's report has a name of its own.",
            ),
            (
                {"frequency": "daily", "name_template": "{period} {owner}"},
                "name_template",
                "Use only {name} and {period} between braces, not {owner}; write {{ and }} for a "
                "brace itself.",
            ),
            (
                {"frequency": "daily", "name_template": "{name.__class__} {period}"},
                "name_template",
                "Use only {name} and {period} between braces, not {name.__class__}; write {{ and "
                "}} for a brace itself.",
            ),
            (
                {"frequency": "daily", "name_template": "{period!r}"},
                "name_template",
                "Write {period} as it is, without ! or :.",
            ),
            (
                {"frequency": "daily", "name_template": "{period"},
                "name_template",
                "Write {{ and }} for a brace that is not {name} or {period}.",
            ),
            (
                {"frequency": "daily", "name_template": "{period}\tGPU"},
                "name_template",
                "Remove the control characters (such as tabs or line breaks).",
            ),
        ],
    )
    def test_a_bad_field_is_named(self, alice, fields, field, message):
        found = errors(schedule_of(alice, **fields))
        assert list(found) == [field]
        if message:
            assert found[field] == [message]

    def test_names_of_its_reports_must_fit_a_reports_name(self, alice):
        # 240 + " " + a fiscal month's label of 23 characters: 264.
        schedule = schedule_of(alice, frequency="monthly", day_of_month=26)
        schedule.name = "x" * 240
        assert errors(schedule) == {
            "name_template": [
                "Its reports' names would be 264 characters long; make them at most 250."
            ]
        }
        schedule.day_of_month = 1  # "2026-11": 248
        schedule.full_clean()

    def test_the_fields_another_frequency_uses_are_emptied(self, alice):
        schedule = schedule_of(alice, frequency="quarterly", weekday=3, day_of_month=26)
        schedule.full_clean()
        assert (schedule.weekday, schedule.day_of_month) == (None, None)

    def test_it_needs_an_owner_of_its_tenant(self, alice, charlie):
        no_owner = ReportSchedule(tenant=alice.tenant, name="GPU usage", frequency="daily")
        assert errors(no_owner) == {
            "owner_name": ["Give the schedule one owner: a user or a service account."]
        }
        stranger = schedule_of(charlie, frequency="daily")
        stranger.tenant = alice.tenant
        assert errors(stranger) == {
            "owner_name": ["charlie@globex.example is not of the schedule's tenant."]
        }

    def test_a_service_account_may_own_it(self, tenant):
        robot = ServiceAccountFactory(tenant=tenant, name="robot")
        schedule = schedule_of(robot, frequency="daily")
        schedule.full_clean()
        assert (schedule.owner, schedule.owner_user, schedule.owner_name) == (
            robot,
            None,
            "sa:robot",
        )

    def test_a_name_the_tenant_uses_whatever_its_case_is_refused(self, alice, charlie):
        schedule_of(alice, frequency="daily").save()
        schedule_of(charlie, frequency="daily").full_clean()  # another tenant's
        again = schedule_of(alice, frequency="daily")
        again.name = "gpu USAGE"
        assert errors(again) == {"__all__": ["Another schedule of the tenant has this name."]}


@pytest.mark.django_db
class TestDatabase:
    def test_names_are_unique_in_a_tenant_whatever_their_case(self, alice, bob, charlie):
        schedule_of(alice, frequency="daily").save()
        schedule_of(charlie, frequency="daily").save()  # another tenant
        with pytest.raises(IntegrityError):
            schedule = schedule_of(bob, frequency="daily")
            schedule.name = "gpu USAGE"
            schedule.save()

    def test_it_has_one_owner_at_most(self, alice, tenant):
        schedule = schedule_of(alice, frequency="daily")
        schedule.owner_service_account = ServiceAccountFactory(tenant=tenant)
        with pytest.raises(IntegrityError):
            schedule.save()

    def test_it_outlives_its_owner_and_still_says_who_it_was(self, alice):
        schedule = schedule_of(alice, frequency="daily")
        schedule.save()
        alice.delete()
        schedule.refresh_from_db()
        assert (schedule.owner, schedule.owner_name) == (None, "alice@acme.example")


def test_a_reports_name_is_the_template_filled_in():
    schedule = ReportSchedule(name="GPU {usage}", name_template="{{{period}}} {name}")
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    period = Period(moment.date(), moment.date(), moment, moment, moment, "2026-11")
    assert schedule.report_name(period) == "{2026-11} GPU {usage}"
