"""Usage is collected on a schedule, every 15 minutes, for every enabled source; a source that
cannot be reached is reported and recorded, and does not stop the run."""

import pytest
from django_q.models import Schedule

from consumption.models import UsageSource
from consumption.tasks import collect_usage
from tests.factories import UsageSourceFactory

pytestmark = pytest.mark.django_db


def test_the_schedule_is_created_once_by_name():
    schedule = Schedule.objects.get(name="consumption: collect usage")
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "consumption.tasks.collect_usage",
        "I",
        15,
        -1,
    )


def test_without_sources_there_is_nothing_to_do():
    assert collect_usage() == "No enabled usage source.\n"


def test_a_source_that_cannot_be_reached_is_reported_and_recorded(tenant):
    # Port 9 on the loopback: nothing listens there, so the connection is refused at once.
    down = UsageSourceFactory(tenant=tenant, name="down", url="http://127.0.0.1:9")
    outcome = collect_usage()
    assert "1 of 1 source(s) failed: down." in outcome
    down.refresh_from_db()
    assert down.collected_until is None
    assert "cannot reach Prometheus at http://127.0.0.1:9" in down.last_error
    assert UsageSource.objects.get(pk=down.pk).last_error_at is not None
