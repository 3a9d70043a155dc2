"""Names in any script: unique regardless of letter case, searched and sorted regardless of it,
the same on SQLite as on PostgreSQL (spec 4.1)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from reports.models import Report
from reports.services import DuplicateReportName, create_report
from tests.reports.conftest import MARCH

URL = reverse("reports:report_list")
PAIRS = [("Отчёт по GPU", "ОТЧЁТ ПО GPU"), ("Ärger", "ärger"), ("Σύνοψη", "ΣΎΝΟΨΗ")]


def make(subject, name: str) -> Report:
    return create_report(subject, name=name, start=MARCH[0], end=MARCH[1])


def listed(client, **params) -> list[str]:
    response = client.get(URL, params)
    assert response.status_code == 200
    return [row.record.name for row in response.context["table"].rows]


@pytest.mark.django_db
@pytest.mark.usefixtures("no_queue")
class TestNames:
    @pytest.mark.parametrize("first, second", PAIRS)
    def test_a_name_differing_only_in_case_is_taken(self, viewer, usage, first, second):
        make(viewer, first)
        with pytest.raises(DuplicateReportName, match="already exists"):
            make(viewer, second)
        assert list(Report.objects.values_list("name", flat=True)) == [first]

    @pytest.mark.parametrize("first, second", PAIRS)
    def test_the_form_says_the_name_is_taken(self, client, viewer, usage, first, second):
        make(viewer, first)
        client.force_login(viewer)
        response = client.post(
            reverse("reports:report_create"),
            {
                "name": second,
                "start_date": "2026-03-01",
                "end_date": "2026-03-31",
                "group_by": "Project",
            },
        )
        assert response.status_code == 400
        assert "already exists" in response.content.decode()
        assert Report.objects.count() == 1

    @pytest.mark.parametrize(
        "query, found",
        [("отчёт", "Отчёт по GPU"), ("ÄRGER", "ärger report"), ("σύνοψη", "Μηνιαία ΣΎΝΟΨΗ")],
    )
    def test_search_ignores_case_in_every_script(self, client, viewer, usage, query, found):
        for name in [found, "Other"]:
            make(viewer, name)
        client.force_login(viewer)
        assert listed(client, q=query) == [found]
        assert listed(client, name=query) == [found]

    def test_the_description_and_creator_are_searched_regardless_of_case(
        self, client, viewer, usage
    ):
        create_report(viewer, name="One", description="ЗАМЕТКА", start=MARCH[0], end=MARCH[1])
        make(viewer, "Two")
        client.force_login(viewer)
        assert listed(client, q="заметка") == ["One"]

    def test_sorting_by_name_ignores_case(self, client, viewer, usage):
        for name in ["beta", "Alpha", "Ärger", "alpine", "Zeta", "äpfel"]:
            make(viewer, name)
        client.force_login(viewer)
        expected = sorted(["beta", "Alpha", "Ärger", "alpine", "Zeta", "äpfel"], key=str.lower)
        assert listed(client, sort="name") == expected
        assert listed(client, sort="-name") == expected[::-1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_names_alike_but_for_case_from_before_are_kept_apart_with_a_number(tenant):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite's old rule (ASCII letters folded) let such names in")
    executor = MigrationExecutor(connection)
    executor.migrate([("reports", "0008_report_field_rules")])
    old = executor.loader.project_state([("reports", "0008_report_field_rules")]).apps
    Report_ = old.get_model("reports", "Report")
    Tenant_ = old.get_model("tenancy", "Tenant")
    owner = Tenant_.objects.get(pk=tenant.pk)
    fields = {"tenant": owner, "start": MARCH[0], "end": MARCH[1], "created_by": "x"}
    # Made one after another, as SQLite's old rule (ASCII letters only) let them be.
    for name in ["Отчёт", "ОТЧЁТ", "отчёт", "Other"]:
        Report_.objects.create(name=name, **fields)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert sorted(Report.objects.values_list("name", flat=True)) == sorted(
        ["Отчёт", "ОТЧЁТ (2)", "отчёт (3)", "Other"]
    )
