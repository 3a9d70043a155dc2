"""Creating and deleting reports through the one shared path (spec 2.3, 4.1)."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import JSONField, Value
from hypothesis import given
from hypothesis import strategies as st

from reports.models import Report, ReportStatus
from reports.services import DuplicateReportName, checked_report, create_report, delete_reports
from tests.factories import UserFactory, grant
from tests.reports.conftest import MARCH

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
FORMS = "departmentName==VALUE, clusterId==VALUE."


def fields(**overrides):
    values = {
        "name": "March usage",
        "description": "",
        "start": MARCH[0],
        "end": MARCH[1],
        "group_by": None,
        "filter_by": [],
    }
    values.update(overrides)
    return values


def clean_report_fields(**given):
    """The report's fields as checked on NOW."""
    with time_machine.travel(NOW, tick=False):
        report = checked_report(**given)
    return {name: getattr(report, name) for name in given}


def errors(**overrides) -> dict:
    with pytest.raises(ValidationError) as error:
        clean_report_fields(**fields(**overrides))
    return {field: messages[0] for field, messages in error.value.message_dict.items()}


class TestValidation:
    def test_good_fields_are_cleaned(self):
        cleaned = clean_report_fields(**fields(name="  March usage  "))
        assert cleaned["name"] == "March usage"
        assert cleaned["group_by"] == "Project"

    @pytest.mark.parametrize(
        "overrides, expected",
        [
            ({"name": "   "}, {"name": "Enter a name."}),
            ({"name": "x" * 251}, {"name": "Use at most 250 characters (this name has 251)."}),
            (
                {"name": "a\tb"},
                {"name": "Remove the control characters (such as tabs or line breaks)."},
            ),
            (
                {"start": datetime(2026, 3, 1)},
                {"start": "Give the time zone (for example Z for UTC)."},
            ),
            ({"end": MARCH[0]}, {"end": "The end must be after the start."}),
            (
                {"end": datetime(2026, 4, 16, 0, 0, 1, tzinfo=UTC)},
                {"end": "The end cannot be later than the end of today (UTC)."},
            ),
            (
                {"start": MARCH[1] - timedelta(days=367)},
                {"end": "The collection period can be at most 366 days long."},
            ),
            (
                {"group_by": "Team"},
                {"group_by": "Choose one of Project, Department, Cluster, Nodepool, Workload."},
            ),
            (
                {"filter_by": ["owner==bob"]},
                {"filter_by": "Invalid filter 'owner==bob': use projectName==VALUE, " + FORMS},
            ),
        ],
    )
    def test_each_rule_names_its_field(self, overrides, expected):
        assert errors(**overrides) == expected

    def test_filters_that_are_not_text_are_refused(self):
        # As the admin's JSON field could send them.
        assert errors(filter_by=[1]) == {
            "filter_by": 'Give a list of conditions, such as ["projectName==a"].'
        }

    def test_the_end_of_today_is_allowed(self):
        end = datetime(2026, 4, 16, tzinfo=UTC)
        assert clean_report_fields(**fields(end=end))["end"] == end

    def test_a_250_character_name_is_allowed(self):
        assert len(clean_report_fields(**fields(name="x" * 250))["name"]) == 250


@pytest.mark.django_db
class TestCreate:
    def test_it_saves_a_pending_report_and_queues_its_build_on_commit(
        self, viewer, usage, django_capture_on_commit_callbacks, monkeypatch
    ):
        queued = []
        monkeypatch.setattr("reports.services.enqueue_build", queued.append)
        with django_capture_on_commit_callbacks(execute=True):
            report = create_report(viewer, name="March", start=MARCH[0], end=MARCH[1])
            assert queued == []
        assert queued == [report.pk]
        report.refresh_from_db()
        assert (report.status, report.status_message) == (ReportStatus.PENDING, "Report in queue")
        assert report.created_by == "alice@acme.example"
        assert report.tenant == viewer.tenant

    def test_it_keeps_the_projects_the_creator_could_read(self, researcher, usage):
        report = create_report(researcher, name="Mine", start=MARCH[0], end=MARCH[1])
        assert report.project_ids == [usage["vision"].pk]

    def test_the_projects_are_stored_as_runs_of_consecutive_ids(self, viewer, usage):
        report = create_report(viewer, name="All", start=MARCH[0], end=MARCH[1])
        ids = [101, 102, 103, 105, 107, 108]
        Report.objects.filter(pk=report.pk).update(project_ids=ids)
        with connection.cursor() as cursor:
            pk = Report._meta.pk.get_db_prep_value(report.pk, connection)
            cursor.execute("SELECT project_ids FROM reports_report WHERE id = %s", [pk])
            [(stored,)] = cursor.fetchall()
        stored = json.loads(stored) if isinstance(stored, str) else stored
        assert stored == [[101, 103], 105, [107, 108]]
        report.refresh_from_db()
        assert report.project_ids == ids
        # As a list of each id, the form reports were stored in before.
        every_id = Value([3, 1, 2], output_field=JSONField())
        Report.objects.filter(pk=report.pk).update(project_ids=every_id)
        report.refresh_from_db()
        assert report.project_ids == [3, 1, 2]

    def test_a_subject_without_a_project_may_not_create(self, bob, usage):
        with pytest.raises(PermissionDenied, match="at least one project"):
            create_report(bob, name="Nope", start=MARCH[0], end=MARCH[1])
        assert not Report.objects.exists()

    def test_a_name_the_tenant_uses_is_refused_whatever_its_case(self, viewer, researcher, usage):
        create_report(viewer, name="March", start=MARCH[0], end=MARCH[1])
        with pytest.raises(DuplicateReportName) as error:
            create_report(researcher, name="MARCH", start=MARCH[0], end=MARCH[1])
        assert error.value.message_dict == {"name": ["A report named 'MARCH' already exists."]}

    def test_another_tenant_may_use_the_same_name(self, viewer, charlie, other_org, usage):
        grant(charlie, "Viewer", charlie.tenant)
        create_report(viewer, name="March", start=MARCH[0], end=MARCH[1])
        create_report(charlie, name="March", start=MARCH[0], end=MARCH[1])
        assert Report.objects.filter(name="March").count() == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_creations_of_one_name_make_one_report(tenant, org, monkeypatch):
    monkeypatch.setattr("reports.services.enqueue_build", lambda report_id: None)
    users = [UserFactory(tenant=tenant), UserFactory(tenant=tenant)]
    for user in users:
        grant(user, "Viewer", tenant)
    barrier = threading.Barrier(2)
    outcomes = []

    def create(user, name):
        try:
            barrier.wait()
            create_report(user, name=name, start=MARCH[0], end=MARCH[1])
            outcomes.append("created")
        except DuplicateReportName:
            outcomes.append("duplicate")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=create, args=(users[0], "Quarterly")),
        threading.Thread(target=create, args=(users[1], "QUARTERLY")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "duplicate"]
    assert Report.objects.count() == 1


@pytest.mark.django_db
class TestVisibilityAndDeletion:
    @pytest.fixture
    def reports(self, viewer, researcher, usage):
        return {
            "alice's": create_report(viewer, name="Alice's", start=MARCH[0], end=MARCH[1]),
            "bob's": create_report(researcher, name="Bob's", start=MARCH[0], end=MARCH[1]),
        }

    def test_a_tenant_wide_viewer_sees_every_report_of_the_tenant(self, viewer, reports):
        assert set(Report.objects.permitted(viewer, "read")) == set(reports.values())

    def test_a_project_researcher_sees_only_their_own(self, researcher, reports):
        assert set(Report.objects.permitted(researcher, "read")) == {reports["bob's"]}

    def test_another_tenant_sees_none(self, charlie, reports):
        grant(charlie, "System administrator", charlie.tenant)
        assert not Report.objects.permitted(charlie, "read").exists()

    def test_the_creator_may_delete_their_report(self, researcher, reports, media):
        assert delete_reports(researcher, [reports["bob's"]]) == 1
        assert set(Report.objects.all()) == {reports["alice's"]}

    def test_a_viewer_may_see_but_not_delete_anothers_report(self, viewer, reports):
        with pytest.raises(PermissionDenied, match="You may not delete: Bob's."):
            delete_reports(viewer, [reports["bob's"], reports["alice's"]])
        assert Report.objects.count() == 2

    def test_tenant_wide_project_delete_may_delete_any(self, reports, tenant):
        admin = UserFactory(tenant=tenant)
        grant(admin, "System administrator", tenant)
        assert delete_reports(admin, reports.values()) == 2

    def test_a_department_administrator_may_not_delete_others(self, reports, org, tenant):
        dept_admin = UserFactory(tenant=tenant)
        grant(dept_admin, "Department administrator", org["research"])
        assert not Report.objects.permitted(dept_admin, "delete").exists()
        assert not Report.objects.permitted(dept_admin, "read").exists()


ROLES = {
    # role: (sees the tenant's reports, deletes the tenant's reports) when held at tenant scope
    "System administrator": (True, True),
    "Department administrator": (True, True),
    "Editor": (True, False),
    "Research manager": (True, False),
    "L1 researcher": (True, False),
    "ML engineer": (True, False),
    "Viewer": (True, False),
}


@pytest.mark.django_db
class TestEachRole:
    @pytest.fixture
    def others(self, researcher, usage):
        return create_report(researcher, name="Bob's", start=MARCH[0], end=MARCH[1])

    @pytest.mark.parametrize("role", ROLES)
    def test_at_tenant_scope(self, role, tenant, others, usage):
        subject = UserFactory(tenant=tenant)
        grant(subject, role, tenant)
        own = create_report(subject, name="Own", start=MARCH[0], end=MARCH[1])
        sees_all, deletes_all = ROLES[role]
        assert set(Report.objects.permitted(subject, "read")) == (
            {own, others} if sees_all else {own}
        )
        expected = {own, others} if deletes_all else {own}
        assert set(Report.objects.permitted(subject, "delete")) == expected

    @pytest.mark.parametrize("role", ROLES)
    def test_at_project_scope_only_their_own(self, role, tenant, others, usage):
        subject = UserFactory(tenant=tenant)
        grant(subject, role, usage["nlp"])
        own = create_report(subject, name="Own", start=MARCH[0], end=MARCH[1])
        assert set(Report.objects.permitted(subject, "read")) == {own}
        assert set(Report.objects.permitted(subject, "delete")) == {own}


@given(st.sets(st.integers(1, 60), max_size=40))
def test_any_projects_read_back_as_they_were_given(ids):
    field = Report._meta.get_field("project_ids")
    stored = json.dumps(field.get_prep_value(ids))
    assert field.from_db_value(stored, None, connection) == sorted(ids)
