"""A schedule's recurrence (reports.recurrence): its periods' edges, labels and due moments, each
expected value written out by hand (weekdays and ISO weeks as `date` prints them, clock changes
as `zdump` lists them)."""

from datetime import datetime, time, timedelta
from itertools import islice

import pytest

from reports.recurrence import Recurrence


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text if "+" in text else f"{text}+00:00")


def edges(period) -> tuple:
    return (period.start, period.end, period.label)


DAILY = Recurrence("daily")
MONDAYS = Recurrence("weekly", weekday=0)
WEDNESDAYS = Recurrence("weekly", weekday=2)
MONTHLY = Recurrence("monthly", day_of_month=1)
ON_THE_31ST = Recurrence("monthly", day_of_month=31)
ON_THE_26TH = Recurrence("monthly", day_of_month=26)
QUARTERLY = Recurrence("quarterly")
NEW_YORK_DAILY = Recurrence("daily", "America/New_York", time(6))


class TestPeriods:
    @pytest.mark.parametrize(
        "recurrence, moment, start, end, label",
        [
            (DAILY, "2026-11-30T15:00", "2026-11-30T00:00", "2026-12-01T00:00", "2026-11-30"),
            (DAILY, "2026-11-30T00:00", "2026-11-30T00:00", "2026-12-01T00:00", "2026-11-30"),
            (DAILY, "2026-11-30T23:59:59", "2026-11-30T00:00", "2026-12-01T00:00", "2026-11-30"),
            # Wednesday 25 November 2026 is in ISO week 48, Monday 23 to Sunday 29.
            (MONDAYS, "2026-11-25T12:00", "2026-11-23T00:00", "2026-11-30T00:00", "2026-W48"),
            (MONTHLY, "2026-11-15T12:00", "2026-11-01T00:00", "2026-12-01T00:00", "2026-11"),
            (MONTHLY, "2026-12-31T23:00", "2026-12-01T00:00", "2027-01-01T00:00", "2026-12"),
            (QUARTERLY, "2026-02-14T00:00", "2026-01-01T00:00", "2026-04-01T00:00", "2026-Q1"),
            (QUARTERLY, "2026-04-01T00:00", "2026-04-01T00:00", "2026-07-01T00:00", "2026-Q2"),
            (QUARTERLY, "2026-08-15T12:00", "2026-07-01T00:00", "2026-10-01T00:00", "2026-Q3"),
            (QUARTERLY, "2026-12-31T23:59", "2026-10-01T00:00", "2027-01-01T00:00", "2026-Q4"),
        ],
    )
    def test_the_period_containing_a_moment(self, recurrence, moment, start, end, label):
        period = recurrence.period_containing(utc(moment))
        assert edges(period) == (utc(start), utc(end), label)

    def test_weeks_across_a_year_end(self):
        # 2026 began on a Thursday: it has an ISO week 53, Monday 28 December to 3 January.
        week = MONDAYS.period_containing(utc("2027-01-01T12:00"))
        assert edges(week) == (utc("2026-12-28T00:00"), utc("2027-01-04T00:00"), "2026-W53")
        assert edges(MONDAYS.period_after(week)) == (
            utc("2027-01-04T00:00"),
            utc("2027-01-11T00:00"),
            "2027-W01",
        )
        assert edges(MONDAYS.period_before(week)) == (
            utc("2026-12-21T00:00"),
            utc("2026-12-28T00:00"),
            "2026-W52",
        )

    def test_weeks_from_another_weekday_are_named_by_their_days(self):
        week = WEDNESDAYS.period_containing(utc("2027-01-01T12:00"))  # a Friday
        assert edges(week) == (
            utc("2026-12-30T00:00"),
            utc("2027-01-06T00:00"),
            "2026-12-30 – 2027-01-05",
        )
        assert (week.first_day.isoformat(), week.last_day.isoformat()) == (
            "2026-12-30",
            "2027-01-05",
        )

    def test_a_month_on_the_31st_ends_with_february(self):
        january = ON_THE_31ST.period_containing(utc("2026-02-10T00:00"))
        february = ON_THE_31ST.period_after(january)
        march = ON_THE_31ST.period_after(february)
        assert [edges(p) for p in (january, february, march)] == [
            (utc("2026-01-31T00:00"), utc("2026-02-28T00:00"), "2026-01-31 – 2026-02-27"),
            (utc("2026-02-28T00:00"), utc("2026-03-31T00:00"), "2026-02-28 – 2026-03-30"),
            (utc("2026-03-31T00:00"), utc("2026-04-30T00:00"), "2026-03-31 – 2026-04-29"),
        ]
        assert ON_THE_31ST.period_before(february) == january

    def test_a_month_on_the_31st_in_a_leap_year(self):
        january = ON_THE_31ST.period_containing(utc("2028-02-28T12:00"))
        february = ON_THE_31ST.period_containing(utc("2028-02-29T00:00"))
        assert [edges(p) for p in (january, february)] == [
            (utc("2028-01-31T00:00"), utc("2028-02-29T00:00"), "2028-01-31 – 2028-02-28"),
            (utc("2028-02-29T00:00"), utc("2028-03-31T00:00"), "2028-02-29 – 2028-03-30"),
        ]
        assert ON_THE_31ST.period_after(january) == february

    @pytest.mark.parametrize(
        "moment, start, end, label",
        [
            ("2026-11-10T12:00", "2026-10-26T00:00", "2026-11-26T00:00", "2026-10-26 – 2026-11-25"),
            ("2026-11-25T23:59", "2026-10-26T00:00", "2026-11-26T00:00", "2026-10-26 – 2026-11-25"),
            ("2026-11-26T00:00", "2026-11-26T00:00", "2026-12-26T00:00", "2026-11-26 – 2026-12-25"),
            ("2027-01-10T00:00", "2026-12-26T00:00", "2027-01-26T00:00", "2026-12-26 – 2027-01-25"),
            ("2028-02-27T00:00", "2028-02-26T00:00", "2028-03-26T00:00", "2028-02-26 – 2028-03-25"),
        ],
    )
    def test_fiscal_months_from_the_26th(self, moment, start, end, label):
        assert edges(ON_THE_26TH.period_containing(utc(moment))) == (utc(start), utc(end), label)

    def test_a_period_is_found_from_any_zone_the_moment_is_given_in(self):
        # 23:30 on 10 November in New York is 04:30 on the 11th in UTC.
        moment = datetime.fromisoformat("2026-11-10T23:30-05:00")
        assert DAILY.period_containing(moment).label == "2026-11-11"
        assert NEW_YORK_DAILY.period_containing(moment).label == "2026-11-10"

    def test_a_moment_without_a_zone_is_refused(self):
        with pytest.raises(ValueError, match="time zone"):
            DAILY.period_containing(datetime(2026, 11, 10))


class TestClockChanges:
    """America/New_York: clocks jump from 02:00 EST to 03:00 EDT on 8 March 2026 (07:00 UTC) and
    go back from 02:00 EDT to 01:00 EST on 1 November 2026 (06:00 UTC)."""

    def test_the_day_the_clocks_jump_lasts_23_hours(self):
        day = NEW_YORK_DAILY.period_containing(utc("2026-03-08T12:00"))
        assert edges(day) == (utc("2026-03-08T05:00"), utc("2026-03-09T04:00"), "2026-03-08")
        assert day.end - day.start == timedelta(hours=23)

    def test_the_day_the_clocks_go_back_lasts_25_hours(self):
        day = NEW_YORK_DAILY.period_containing(utc("2026-11-01T12:00"))
        assert edges(day) == (utc("2026-11-01T04:00"), utc("2026-11-02T05:00"), "2026-11-01")
        assert day.end - day.start == timedelta(hours=25)

    def test_the_days_around_them_last_24_hours_and_meet(self):
        jump = NEW_YORK_DAILY.period_containing(utc("2026-03-08T12:00"))
        before, after = NEW_YORK_DAILY.period_before(jump), NEW_YORK_DAILY.period_after(jump)
        assert (before.start, before.end) == (utc("2026-03-07T05:00"), utc("2026-03-08T05:00"))
        assert (after.start, after.end) == (utc("2026-03-09T04:00"), utc("2026-03-10T04:00"))

    def test_the_moments_at_the_edges_of_the_short_day(self):
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-08T04:59:59")).label == "2026-03-07"
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-08T05:00")).label == "2026-03-08"
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-09T03:59:59")).label == "2026-03-08"
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-09T04:00")).label == "2026-03-09"

    def test_a_quarter_and_a_month_in_the_zone(self):
        first_quarter = Recurrence("quarterly", "America/New_York").period_containing(
            utc("2026-03-08T12:00")
        )
        assert (first_quarter.start, first_quarter.end) == (
            utc("2026-01-01T05:00"),  # EST
            utc("2026-04-01T04:00"),  # EDT
        )
        fiscal = Recurrence("monthly", "America/New_York", day_of_month=26).period_containing(
            utc("2026-11-01T12:00")
        )
        assert edges(fiscal) == (
            utc("2026-10-26T04:00"),  # EDT
            utc("2026-11-26T05:00"),  # EST
            "2026-10-26 – 2026-11-25",
        )

    def test_a_month_in_paris_across_its_clock_change(self):
        # Paris goes from CEST (+02:00) to CET (+01:00) on 25 October 2026.
        october = Recurrence("monthly", "Europe/Paris", day_of_month=1).period_containing(
            utc("2026-10-15T12:00")
        )
        assert edges(october) == (utc("2026-09-30T22:00"), utc("2026-10-31T23:00"), "2026-10")


class TestDueMoments:
    def test_a_report_is_due_at_the_local_time_on_the_day_after_its_period(self):
        # 06:00 in New York: 11:00 UTC in winter (EST), 10:00 UTC in summer (EDT).
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-06T12:00")).due == utc(
            "2026-03-07T11:00"
        )
        assert NEW_YORK_DAILY.period_containing(utc("2026-03-07T12:00")).due == utc(
            "2026-03-08T10:00"
        )
        assert NEW_YORK_DAILY.period_containing(utc("2026-10-31T12:00")).due == utc(
            "2026-11-01T11:00"
        )

    def test_a_time_the_clocks_skip_is_read_with_the_offset_before_the_jump(self):
        # 02:30 does not happen on 8 March 2026 in New York: 02:30 EST is 03:30 EDT.
        recurrence = Recurrence("daily", "America/New_York", time(2, 30))
        assert recurrence.period_containing(utc("2026-03-07T12:00")).due == utc("2026-03-08T07:30")

    def test_a_time_that_happens_twice_is_its_first_occurrence(self):
        # 01:30 happens twice on 1 November 2026 in New York: first in EDT (05:30 UTC).
        recurrence = Recurrence("daily", "America/New_York", time(1, 30))
        assert recurrence.period_containing(utc("2026-10-31T12:00")).due == utc("2026-11-01T05:30")

    def test_monthly_and_quarterly_reports_are_due_on_the_next_periods_first_day(self):
        at_seven = {"time_zone": "Europe/Paris", "run_at": time(7)}
        fiscal = Recurrence("monthly", day_of_month=26, **at_seven)
        assert fiscal.period_containing(utc("2026-11-10T12:00")).due == utc("2026-11-26T06:00")
        quarter = Recurrence("quarterly", **at_seven)
        assert quarter.period_containing(utc("2026-08-15T12:00")).due == utc("2026-10-01T05:00")
        week = Recurrence("weekly", weekday=0, **at_seven)
        assert week.period_containing(utc("2026-11-25T12:00")).due == utc("2026-11-30T06:00")

    def test_the_periods_due_between_two_moments(self):
        at_six = Recurrence("daily", run_at=time(6))
        due = at_six.due_periods(since=utc("2026-11-01T12:00"), until=utc("2026-11-04T06:00"))
        # 1 November is due at 06:00 on the 2nd, ... 3 November at 06:00 on the 4th, included.
        assert [p.label for p in due] == ["2026-11-01", "2026-11-02", "2026-11-03"]
        later = at_six.due_periods(since=utc("2026-11-02T06:00"), until=utc("2026-11-04T05:59"))
        assert [p.label for p in later] == ["2026-11-02"]  # due at `since`: not again
        assert at_six.due_periods(utc("2026-11-04T06:00"), utc("2026-11-05T05:00")) == []

    def test_months_due_across_a_year(self):
        due = ON_THE_31ST.due_periods(since=utc("2026-10-01T00:00"), until=utc("2027-03-01T00:00"))
        # The month before, 31 August to 29 September, fell due on 30 September; the month from
        # 28 February falls due on 31 March.
        assert [(p.label, p.due) for p in due] == [
            ("2026-09-30 – 2026-10-30", utc("2026-10-31T00:00")),
            ("2026-10-31 – 2026-11-29", utc("2026-11-30T00:00")),
            ("2026-11-30 – 2026-12-30", utc("2026-12-31T00:00")),
            ("2026-12-31 – 2027-01-30", utc("2027-01-31T00:00")),
            ("2027-01-31 – 2027-02-27", utc("2027-02-28T00:00")),
        ]

    def test_the_last_complete_period_may_not_be_due_yet(self):
        at_six = Recurrence("daily", run_at=time(6))
        period = at_six.last_complete_period(utc("2026-11-11T03:00"))
        assert (period.label, period.due) == ("2026-11-10", utc("2026-11-11T06:00"))

    def test_the_next_runs(self):
        mondays = Recurrence("weekly", weekday=0)
        # Week 52 fell due at midnight on 28 December: not after it.
        upcoming = islice(mondays.periods_due_after(utc("2026-12-28T00:00")), 3)
        assert [(p.label, p.due) for p in upcoming] == [
            ("2026-W53", utc("2027-01-04T00:00")),
            ("2027-W01", utc("2027-01-11T00:00")),
            ("2027-W02", utc("2027-01-18T00:00")),
        ]


class TestInvalidRecurrences:
    @pytest.mark.parametrize(
        "arguments, message",
        [
            ({"frequency": "hourly"}, "hourly"),
            ({"frequency": "weekly"}, "weekday"),
            ({"frequency": "weekly", "weekday": 7}, "weekday"),
            ({"frequency": "monthly"}, "day of the month"),
            ({"frequency": "monthly", "day_of_month": 0}, "day of the month"),
            ({"frequency": "monthly", "day_of_month": 32}, "day of the month"),
            ({"frequency": "daily", "time_zone": "Mars/Olympus"}, "Mars/Olympus"),
        ],
    )
    def test_it_says_what_is_wrong(self, arguments, message):
        with pytest.raises(ValueError, match=message):
            Recurrence(**arguments)


class TestInWords:
    @pytest.mark.parametrize(
        "arguments, words",
        [
            ({"frequency": "daily"}, "Daily, at 00:00 UTC"),
            (
                {"frequency": "weekly", "weekday": 6, "time_zone": "Europe/Paris"},
                "Weekly from Sunday, at 00:00 Europe/Paris",
            ),
            ({"frequency": "monthly", "day_of_month": 1}, "Monthly from the 1st, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 2}, "Monthly from the 2nd, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 3}, "Monthly from the 3rd, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 11}, "Monthly from the 11th, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 12}, "Monthly from the 12th, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 13}, "Monthly from the 13th, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 22}, "Monthly from the 22nd, at 00:00 UTC"),
            ({"frequency": "monthly", "day_of_month": 31}, "Monthly from the 31st, at 00:00 UTC"),
            (
                {"frequency": "quarterly", "run_at": time(6, 30), "time_zone": "Asia/Kolkata"},
                "Quarterly, at 06:30 Asia/Kolkata",
            ),
        ],
    )
    def test_it_says_how_often_and_when(self, arguments, words):
        assert Recurrence(**arguments).in_words == words
