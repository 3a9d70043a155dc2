"""`manage.py import_usage`: what it creates, replaces and refuses, and that a refused file leaves
nothing behind (spec 3.2)."""

import io
import json
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command

from consumption.aggregation import consumption_rows
from consumption.importing import COLUMNS
from consumption.models import UsageRollup, UsageSample
from consumption.parsing import FIELDS, SampleRow
from reports_site.tenancy.models import Cluster, Department, Project

EAST = "7d5c1f9e-3b2a-4c8d-9e0f-1a2b3c4d5e6f"
WEST = "0f8fad5b-d9cb-469f-a165-70867728950e"


def row(**overrides) -> dict:
    values = {
        "cluster_id": EAST,
        "cluster": "east",
        "nodepool": "a100",
        "department": "research",
        "project": "vision",
        "workload": "train-1",
        "start": "2026-03-10T10:00:00Z",
        "duration_seconds": "3600",
        "gpu_allocated": "2",
        "gpu_idle": "0.5",
        "cpu_allocated_cores": "8",
        "cpu_used_cores": "6",
        "memory_allocated_bytes": "1073741824",
        "memory_used_bytes": "536870912",
    }
    values.update(overrides)
    return values


def csv_file(tmp_path, *rows: dict, name="usage.csv", header=FIELDS):
    lines = [",".join(header)] + [",".join(str(r.get(f, "")) for f in header) for r in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(path, tenant, *args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_usage", str(path), "--tenant", tenant.slug, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path, tenant, *args) -> tuple[str, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command(
            "import_usage",
            str(path),
            "--tenant",
            tenant.slug,
            *args,
            stdout=io.StringIO(),
            stderr=err,
        )
    return str(error.value), err.getvalue()


def assert_nothing_imported() -> None:
    assert not UsageSample.objects.exists()
    assert not UsageRollup.objects.exists()
    assert not Cluster.objects.exists()
    assert not Project.objects.exists()


def gpu_hours(tenant) -> list[tuple]:
    result = consumption_rows(
        tenant=tenant,
        start=datetime.fromisoformat("2026-03-01T00:00Z"),
        end=datetime.fromisoformat("2026-04-01T00:00Z"),
        projects=Project.objects.for_tenant(tenant),
    )
    return [(*r.segment, r.measure("gpu_allocation_hours")) for r in result]


@pytest.mark.django_db
class TestImport:
    def test_it_creates_samples_and_the_org_units_they_name(self, tmp_path, tenant):
        path = csv_file(tmp_path, row(), row(workload="train-2", nodepool=""))
        out, err = run(path, tenant)
        assert out.strip() == "2 created, 0 replaced, 0 rejected."
        assert err == ""
        cluster = Cluster.objects.get(tenant=tenant)
        assert (str(cluster.uuid), cluster.name) == (EAST, "east")
        assert set(cluster.nodepools.values_list("name", flat=True)) == {"default", "a100"}
        project = Project.objects.get(cluster=cluster)
        assert (project.name, project.department.name) == ("vision", "research")
        sample = UsageSample.objects.get(workload="train-1")
        assert (sample.gpu_allocated_micro, sample.gpu_idle_micro) == (2_000_000, 500_000)
        assert sample.start_epoch == int(datetime.fromisoformat("2026-03-10T10:00Z").timestamp())
        assert UsageSample.objects.get(workload="train-2").nodepool.name == "default"
        assert gpu_hours(tenant) == [("east", "research", "vision", 4)]

    def test_a_reimported_sample_replaces_the_old_one(self, tmp_path, tenant):
        run(csv_file(tmp_path, row(), row(workload="train-2")), tenant)
        out, _ = run(
            csv_file(tmp_path, row(gpu_allocated="3"), row(workload="train-3"), name="again.csv"),
            tenant,
        )
        assert out.strip() == "1 created, 1 replaced, 0 rejected."
        assert UsageSample.objects.count() == 3
        assert gpu_hours(tenant) == [("east", "research", "vision", 7)]

    def test_a_replaced_sample_that_moves_out_of_a_day_leaves_that_day(self, tmp_path, tenant):
        # First it runs past midnight into the 11th, then it is shortened to end before it.
        run(csv_file(tmp_path, row(start="2026-03-10T23:00:00Z", duration_seconds="7200")), tenant)
        run(
            csv_file(
                tmp_path,
                row(start="2026-03-10T23:00:00Z", duration_seconds="1800"),
                name="shorter.csv",
            ),
            tenant,
        )
        assert gpu_hours(tenant) == [("east", "research", "vision", 1)]
        assert list(UsageRollup.objects.values_list("day", flat=True)) == [20522]

    def test_a_later_batch_that_names_stored_samples_replaces_them(
        self, tmp_path, tenant, monkeypatch
    ):
        run(csv_file(tmp_path, row(workload="old")), tenant)
        monkeypatch.setattr("consumption.importing.BATCH_SIZE", 2)
        rows = [row(workload="a"), row(workload="b"), row(workload="old", gpu_allocated="5")]
        out, _ = run(csv_file(tmp_path, *rows, row(workload="c"), name="b.csv"), tenant)
        assert out.strip() == "3 created, 1 replaced, 0 rejected."
        assert UsageSample.objects.get(workload="old").gpu_allocated_micro == 5_000_000
        assert gpu_hours(tenant) == [("east", "research", "vision", 11)]

    def test_a_file_that_repeats_an_identity_keeps_the_last_row(self, tmp_path, tenant):
        out, _ = run(csv_file(tmp_path, row(gpu_allocated="1"), row(gpu_allocated="4")), tenant)
        assert out.strip() == "1 created, 1 replaced, 0 rejected."
        assert gpu_hours(tenant) == [("east", "research", "vision", 4)]

    def test_json_lines(self, tmp_path, tenant):
        path = tmp_path / "usage.jsonl"
        path.write_text(json.dumps(row(gpu_allocated=0.25, gpu_idle=0)) + "\n")
        out, _ = run(path, tenant)
        assert out.strip() == "1 created, 0 replaced, 0 rejected."
        assert UsageSample.objects.get().gpu_allocated_micro == 250_000

    def test_standard_input(self, tmp_path, tenant, monkeypatch):
        data = csv_file(tmp_path, row()).read_bytes()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        out, _ = run("-", tenant)
        assert out.strip() == "1 created, 0 replaced, 0 rejected."

    def test_the_same_names_in_another_tenant_are_other_units(self, tmp_path, tenant, other_org):
        run(csv_file(tmp_path, row()), tenant)
        assert Project.objects.for_tenant(tenant).get().name == "vision"
        assert other_org["vision"].usage_samples.count() == 0

    def test_skip_invalid_imports_the_valid_rows_and_lists_the_rest(self, tmp_path, tenant):
        path = csv_file(tmp_path, row(), row(workload="bad", gpu_idle="3"), row(workload="ok"))
        out, err = run(path, tenant, "--skip-invalid")
        assert out.strip() == "2 created, 0 replaced, 1 rejected."
        assert "line 3, gpu_idle:" in err
        assert set(UsageSample.objects.values_list("workload", flat=True)) == {"train-1", "ok"}


BAD_ROWS = [
    ("a time without a zone", {"start": "2026-03-10T10:00:00"}, "start", "time zone"),
    ("a negative amount", {"cpu_used_cores": "-1"}, "cpu_used_cores", "negative"),
    ("gpu_idle above gpu_allocated", {"gpu_idle": "2.5"}, "gpu_idle", "gpu_allocated"),
    ("a duration of 0", {"duration_seconds": "0"}, "duration_seconds", "86,400"),
    ("a duration above a day", {"duration_seconds": "86401"}, "duration_seconds", "86,400"),
]


@pytest.mark.django_db
class TestRefusedFiles:
    @pytest.mark.parametrize("case, bad, field, words", BAD_ROWS, ids=[c[0] for c in BAD_ROWS])
    def test_a_bad_row_rejects_the_whole_file(self, tmp_path, tenant, case, bad, field, words):
        path = csv_file(tmp_path, row(), row(workload="train-2", **bad), row(workload="train-3"))
        message, err = refused(path, tenant)
        assert "1 invalid row(s); nothing was imported" in message
        [listed] = err.strip().splitlines()
        assert listed.startswith(f"line 3, {field}: ")
        assert words in listed
        assert_nothing_imported()

    def test_a_project_placed_in_two_departments(self, tmp_path, tenant):
        path = csv_file(tmp_path, row(), row(workload="train-2", department="ops"))
        message, err = refused(path, tenant)
        assert "nothing was imported" in message
        assert err.strip() == (
            "line 3, department: project 'vision' of cluster 'east' is in department "
            "'research', not 'ops': a project belongs to exactly one department"
        )
        assert_nothing_imported()

    def test_a_project_that_exists_in_another_department(self, tmp_path, tenant, org):
        east = org["east"]
        path = csv_file(tmp_path, row(cluster_id=str(east.uuid), cluster="east", department="ops"))
        _, err = refused(path, tenant)
        assert "is in department 'research', not 'ops'" in err
        assert not UsageSample.objects.exists()
        assert not Department.objects.filter(name="ops").exclude(pk=org["ops"].pk).exists()

    def test_a_cluster_id_of_another_tenant(self, tmp_path, tenant, other_org):
        path = csv_file(tmp_path, row(cluster_id=str(other_org["east"].uuid)))
        _, err = refused(path, tenant)
        assert "belongs to another tenant" in err
        assert not UsageSample.objects.exists()

    def test_a_known_cluster_id_under_another_name(self, tmp_path, tenant):
        run(csv_file(tmp_path, row()), tenant)
        _, err = refused(csv_file(tmp_path, row(cluster="renamed"), name="b.csv"), tenant)
        assert f"cluster {EAST} is named 'east', not 'renamed'" in err

    def test_a_missing_column(self, tmp_path, tenant):
        header = [f for f in FIELDS if f != "gpu_idle"]
        message, _ = refused(csv_file(tmp_path, row(), header=header), tenant)
        assert "lacks the column(s) gpu_idle" in message
        assert "Nothing was imported" in message
        assert_nothing_imported()

    def test_a_file_that_is_not_utf8(self, tmp_path, tenant):
        path = csv_file(tmp_path, row(), row(workload="train-2"))
        path.write_bytes(path.read_bytes().replace(b"train-2", b"tr\xe9in-2"))
        message, err = refused(path, tenant)
        assert "nothing was imported" in message
        assert err.strip().startswith("line 3: is not valid UTF-8")
        assert_nothing_imported()

    def test_an_empty_file(self, tmp_path, tenant):
        path = tmp_path / "empty.csv"
        path.write_bytes(b"")
        message, _ = refused(path, tenant)
        assert "The file is empty" in message
        assert_nothing_imported()

    def test_many_bad_rows_show_the_first_twenty_and_a_count(self, tmp_path, tenant):
        rows = [row(workload=f"w{i}", duration_seconds="0") for i in range(25)]
        message, err = refused(csv_file(tmp_path, *rows), tenant)
        assert "25 invalid row(s)" in message
        listed = err.strip().splitlines()
        assert len(listed) == 21
        assert listed[0].startswith("line 2, duration_seconds")
        assert listed[-1] == "... and 5 more invalid row(s) (first 20 shown)."

    def test_an_unknown_extension(self, tmp_path, tenant):
        path = tmp_path / "usage.xlsx"
        path.write_bytes(b"x")
        message, _ = refused(path, tenant)
        assert "use a .csv or .jsonl file" in message

    def test_a_missing_file(self, tmp_path, tenant):
        message, _ = refused(tmp_path / "nope.csv", tenant)
        assert "Cannot read" in message
        assert "No such file" in message

    def test_an_unknown_tenant(self, tmp_path, tenant):
        tenant.slug = "nobody"
        message, _ = refused(csv_file(tmp_path, row()), tenant)
        assert message == "Tenant 'nobody' does not exist."


def test_sample_rows_end_with_the_stored_columns_in_order():
    # The importer copies a row's duration and amounts as one slice.
    assert SampleRow._fields[8:] == COLUMNS[4:]
