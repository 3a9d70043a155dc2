"""Every page under /analytics/schedules/, sent arbitrary input by a logged-in user: whatever
arrives, the answer is never a server error (the senders and strategies of the Reports pages'
fuzz)."""

from datetime import time

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

import reports.schedule_urls
from reports.forms import DeliveryTargetForm, ReportScheduleForm
from reports.models import DeliveryTarget, ReportSchedule
from tests.reports.test_pages_fuzz import (  # noqa: F401 - fixtures
    browser,
    content_types,
    fuzz,
    params,
    raw_body,
    requests_sent,
    rolled_back,
    send,
    values,
)

pytestmark = [pytest.mark.usefixtures("no_queue"), pytest.mark.django_db]

FORM_FIELDS = list(ReportScheduleForm.base_fields)
VALID_FORM = {
    "name": "Fuzzed",
    "group_by": "Project",
    "frequency": "weekly",
    "weekday": "2",
    "schedule_time_zone": "Europe/Paris",
    "run_at": "06:00",
    "name_template": "{name} {period}",
    "keep_last": "3",
    "catch_up_limit": "2",
}
FIELD_VALUES = st.one_of(
    values,
    st.sampled_from(
        ["daily", "weekly", "monthly", "quarterly", "0", "6", "31", "32", "{period}", "{x}"]
    ),
    st.sampled_from(["America/New_York", "Asia/Kolkata", "23:59", "24:00", "Day", "vision"]),
)
TARGET_FIELDS = list(DeliveryTargetForm.base_fields)
TARGET_VALUES = st.one_of(
    values,
    st.sampled_from(
        ["email", "webhook", "storage", "https://hooks.example/x", "ops@acme.example", "gpu/x"]
    ),
)
# Every page of reports.schedule_urls, and how many ids its URL has: none, a schedule's, or a
# schedule's and one of its targets'.
PAGES = {
    "schedule_list": 0,
    "schedule_create": 0,
    "schedule_create_preview": 0,
    "schedule_detail": 1,
    "schedule_edit": 1,
    "schedule_preview": 1,
    "schedule_pause": 1,
    "schedule_resume": 1,
    "schedule_run_now": 1,
    "schedule_delete": 1,
    "target_create": 1,
    "target_enable": 2,
    "target_disable": 2,
    "target_rotate_secret": 2,
    "target_delete": 2,
}
FORM_PAGES = ["schedule_create", "schedule_create_preview", "schedule_edit", "schedule_preview"]


@pytest.fixture
def schedules(viewer, researcher, usage):
    """alice's schedules (one active, one paused) and bob's, each with a webhook target: their
    ids and their target's."""
    made = []
    for owner, name, fields in [
        (viewer, "Daily", {"frequency": "daily"}),
        (viewer, "Resting", {"frequency": "monthly", "day_of_month": 31, "paused": True}),
        (researcher, "Bob's", {"frequency": "weekly", "weekday": 6}),
    ]:
        schedule = ReportSchedule(
            tenant_id=owner.tenant_id, name=name, run_at=time(23, 30), **fields
        )
        schedule.set_owner(owner)
        schedule.full_clean()
        schedule.save()
        target = DeliveryTarget.objects.create(
            schedule=schedule, kind="webhook", url="https://hooks.example/x"
        )
        made.append((str(schedule.pk), target.pk))
    return made


def test_every_page_of_schedules_is_fuzzed():
    assert set(PAGES) == {pattern.name for pattern in reports.schedule_urls.urlpatterns}


def page_url(page: str, ids: tuple[str, int]) -> str:
    return reverse(f"schedules:{page}", args=ids[: PAGES[page]])


class TestForms:
    @fuzz
    @given(
        data=st.data(),
        page=st.sampled_from(FORM_PAGES),
        form=params(FORM_FIELDS, FIELD_VALUES),
        complete=st.booleans(),
        method=st.sampled_from(["get", "post"]),
    )
    def test_any_form(self, browser, schedules, data, page, form, complete, method):  # noqa: F811
        if complete:
            # Half of the forms start from a valid one, so that the model's rules are reached.
            form = {**VALID_FORM, **form}
        url = page_url(page, data.draw(st.sampled_from(schedules)))
        with rolled_back():
            send(browser, page, method, url, data=form)

    @fuzz
    @given(data=st.data(), form=params(TARGET_FIELDS, TARGET_VALUES))
    def test_any_target_form(self, browser, schedules, data, form):  # noqa: F811
        url = page_url("target_create", data.draw(st.sampled_from(schedules)))
        with rolled_back():
            send(browser, "target_create", "post", url, data=form)

    @fuzz
    @given(
        data=st.data(),
        page=st.sampled_from(FORM_PAGES),
        raw=raw_body(FORM_FIELDS),
        content_type=content_types,
    )
    def test_any_body(self, browser, schedules, data, page, raw, content_type):  # noqa: F811
        url = page_url(page, data.draw(st.sampled_from(schedules)))
        with rolled_back():
            send(browser, page, "generic", "POST", url, raw, content_type)


class TestAnyMethod:
    @fuzz
    @given(
        data=st.data(),
        method=st.sampled_from(
            ["GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
        ),
        query=params(["page", "confirm"]),
    )
    def test_any_method_on_any_page(self, browser, schedules, data, method, query):  # noqa: F811
        page = data.draw(st.sampled_from(list(PAGES)))
        ids = data.draw(
            st.one_of(
                st.sampled_from(schedules),
                st.tuples(st.uuids().map(str), st.integers(min_value=0, max_value=2**70)),
                # A schedule with another schedule's target.
                st.tuples(st.sampled_from(schedules), st.sampled_from(schedules)).map(
                    lambda pair: (pair[0][0], pair[1][1])
                ),
            )
        )
        with rolled_back():
            send(browser, page, "generic", method, page_url(page, ids))
            send(browser, page, "get", page_url(page, ids), data=query)
