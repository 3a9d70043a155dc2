"""`manage.py create_report`: the same path and rules as the pages and the API."""

import io

import pytest
from django.core.management import CommandError, call_command

from consumption.models import Price
from reports.models import Report
from reports.tasks import build_report
from tests.factories import ServiceAccountFactory, grant
from tests.reports.conftest import MARCH


@pytest.fixture
def worker(monkeypatch):
    """Builds each queued report at once, as a worker would after the commit."""
    monkeypatch.setattr("reports.services.enqueue_build", lambda pk: build_report(str(pk)))


def create(*args) -> str:
    out = io.StringIO()
    call_command("create_report", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# A bare date is a whole UTC day, the end date included: all of March.
ARGS = ["--tenant", "acme", "--name", "March", "--start", "2026-03-01", "--end", "2026-03-31"]


# Committed for real: the build is queued when the report's transaction commits.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestCreateReportCommand:
    def test_it_creates_waits_and_writes_the_csv(self, viewer, usage, worker, tmp_path):
        output = tmp_path / "march.csv"
        out = create(*ARGS, "--as", viewer.email, "--group-by", "Cluster", "--output", str(output))
        report = Report.objects.get()
        assert f"Created report {report.pk} (March): Pending." in out
        assert "Ready: 2 row(s)" in out
        assert output.read_text().splitlines() == [
            "Cluster,GPU allocation hours,GPU Idle hours,CPU cores allocation hours,"
            "CPU cores usage hours,CPU Memory bytes allocation hours,CPU Memory bytes usage hours",
            "east,7.0000,0.0000,2.0000,0.0000,3600,0",
            "west,8.0000,0.0000,0.0000,0.0000,0,0",
        ]

    def test_rows_per_month_of_a_time_zone(self, viewer, usage, worker, tmp_path):
        output = tmp_path / "march.csv"
        create(
            *ARGS,
            *("--as", viewer.email, "--group-by", "Cluster", "--output", str(output)),
            *("--bucket", "Month", "--time-zone", "Asia/Kolkata"),
        )
        report = Report.objects.get()
        assert (report.bucket, report.time_zone) == ("Month", "Asia/Kolkata")
        # 1 March 00:00 UTC is 05:30 in Kolkata, still March there.
        assert [line.split(",")[:2] for line in output.read_text().splitlines()] == [
            ["Period start", "Cluster"],
            ["2026-03-01", "east"],
            ["2026-03-01", "west"],
        ]

    def test_rows_per_workload(self, viewer, usage, worker, tmp_path):
        output = tmp_path / "march.csv"
        create(*ARGS, "--as", viewer.email, "--group-by", "Workload", "--output", str(output))
        lines = output.read_text().splitlines()
        assert lines[0].startswith("Cluster,Department,Project,Workload,GPU allocation hours")
        assert [line.split(",")[:5] for line in lines[1:]] == [
            ["east", "ops", "infra", "job", "4.0000"],
            ["east", "research", "nlp", "job", "2.0000"],
            ["east", "research", "vision", "job", "1.0000"],
            ["west", "training", "llm", "job", "8.0000"],
        ]

    def test_costs(self, viewer, usage, worker, tmp_path):
        for resource in ("gpu", "cpu", "memory"):
            price = ["--resource", resource, "--price", "3", "--currency", "USD"]
            call_command("set_price", "--tenant", "acme", *price, stdout=io.StringIO())
        output = tmp_path / "march.csv"
        args = ["--as", viewer.email, "--group-by", "Cluster", "--costs", "--output", str(output)]
        # Prices set now hold from now on: March's usage has none.
        with pytest.raises(
            CommandError, match="The report failed: No prices are set for Acme during this period"
        ):
            create(*ARGS, "--name", "Too early", *args)
        Price.objects.update(valid_from=MARCH[0])
        create(*ARGS, *args)
        lines = output.read_text().splitlines()
        assert lines[0].endswith(
            ",GPU cost (USD),GPU idle cost (USD),CPU cost (USD),"
            "CPU memory cost (USD),Total cost (USD)"
        )
        # east: 7 GPU-hours, 2 core-hours and 3600 byte-hours at 3 each; west: 8 GPU-hours.
        assert [line.split(",")[-5:] for line in lines[1:]] == [
            ["21.00", "0.00", "6.00", "0.00", "27.00"],
            ["24.00", "0.00", "0.00", "0.00", "24.00"],
        ]

    def test_an_unknown_time_zone_is_named(self, viewer, usage):
        with pytest.raises(CommandError, match="time-zone: Unknown time zone 'Moon/Base'"):
            create(*ARGS, "--as", viewer.email, "--time-zone", "Moon/Base")
        assert not Report.objects.exists()

    def test_without_wait_it_leaves_the_report_pending(self, viewer, usage, monkeypatch):
        monkeypatch.setattr("reports.services.enqueue_build", lambda pk: None)
        assert "Pending" in create(*ARGS, "--as", viewer.email)
        assert Report.objects.get().status == "Pending"

    def test_as_a_service_account(self, tenant, usage, worker):
        robot = ServiceAccountFactory(tenant=tenant, name="ci-bot")
        grant(robot, "L1 researcher", usage["nlp"])
        create(*ARGS, "--as", "sa:ci-bot", "--wait")
        report = Report.objects.get()
        assert (report.created_by, report.row_count) == ("sa:ci-bot", 1)

    def test_filters(self, viewer, usage, worker):
        create(*ARGS, "--as", viewer.email, "--filter", "projectName==llm", "--wait")
        assert Report.objects.get().row_count == 1

    @pytest.mark.parametrize(
        "extra, message",
        [
            (
                ["--as", "nobody@acme.example"],
                "User 'nobody@acme.example' not found in tenant acme.",
            ),
            (["--as", "charlie@globex.example"], "not found in tenant acme"),
            (["--as", "sa:ghost"], "Service account 'ghost' not found in tenant acme."),
            (["--as", "bob@acme.example"], "at least one project"),
        ],
    )
    def test_subjects_that_cannot_create(self, viewer, bob, charlie, usage, extra, message):
        with pytest.raises(CommandError, match=message):
            create(*ARGS, *extra)
        assert not Report.objects.exists()

    def test_bad_dates_are_named(self, viewer, usage):
        with pytest.raises(CommandError, match="--start: 'March' is not an ISO 8601 date"):
            create(*ARGS[:-4], "--start", "March", "--end", "2026-04-01", "--as", viewer.email)
        with pytest.raises(CommandError, match="--end: '2026-04-01T00:00' has no time zone"):
            create(*ARGS[:-2], "--end", "2026-04-01T00:00", "--as", viewer.email)

    def test_rule_violations_name_the_field(self, viewer, usage):
        with pytest.raises(CommandError, match="end: The end must be after the start."):
            create(*ARGS[:-2], "--end", "2026-02-28", "--as", viewer.email)
        with pytest.raises(CommandError, match="filter-by: Invalid filter 'x'"):
            create(*ARGS, "--as", viewer.email, "--filter", "x")

    @pytest.mark.parametrize(
        "start, end, period",
        [
            # Bare dates: whole UTC days, the end date included, as in the new-report form.
            (
                "2026-03-01",
                "2026-03-31",
                ("2026-03-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"),
            ),
            (
                "2026-03-05",
                "2026-03-05",
                ("2026-03-05T00:00:00+00:00", "2026-03-06T00:00:00+00:00"),
            ),
            # A date and time is that exact instant; the end is excluded, as in the API.
            (
                "2026-03-01T06:00Z",
                "2026-03-02T00:00+01:00",
                ("2026-03-01T06:00:00+00:00", "2026-03-01T23:00:00+00:00"),
            ),
        ],
    )
    def test_dates_and_times_of_the_period(self, viewer, usage, monkeypatch, start, end, period):
        monkeypatch.setattr("reports.services.enqueue_build", lambda pk: None)
        args = ["--tenant", "acme", "--name", "P", "--start", start, "--end", end]
        create(*args, "--as", viewer.email)
        report = Report.objects.get()
        assert (report.start.isoformat(), report.end.isoformat()) == period

    def test_a_duplicate_name(self, viewer, usage, worker):
        create(*ARGS, "--as", viewer.email)
        with pytest.raises(CommandError, match="name: A report named 'March' already exists."):
            create(*ARGS, "--as", viewer.email)

    def test_waiting_without_a_worker_times_out_with_advice(self, viewer, usage, monkeypatch):
        monkeypatch.setattr("reports.services.enqueue_build", lambda pk: None)
        with pytest.raises(CommandError, match="Is a worker .* running"):
            create(*ARGS, "--as", viewer.email, "--wait", "--timeout", "0")
