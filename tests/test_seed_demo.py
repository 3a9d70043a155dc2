"""`seed_demo` builds the demo org with users of several roles, and can run again."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import F

from consumption.models import UsageRollup, UsageSample
from consumption.synthetic import synthetic_placements, usage_rows
from reports.admin import OPERATOR_FAILED_MESSAGE
from reports.models import Report, ReportStatus
from reports_site.tenancy import permissions
from reports_site.tenancy.demo import DEMO_PASSWORD
from reports_site.tenancy.models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Tenant,
    User,
)

MODELS = [
    Tenant,
    Cluster,
    NodePool,
    Department,
    Project,
    User,
    AccessRule,
    UsageSample,
    UsageRollup,
    Report,
]


# The demo usage runs from a midnight up to now, so every test here sets the clock.
NOW = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)


def project_names(user: User) -> set[str]:
    return {f"{p.cluster.name}/{p.name}" for p in Project.objects.permitted(user, "read")}


def assert_the_usage_is_realistic() -> None:
    samples = UsageSample.objects.for_tenant(Tenant.objects.get(slug="demo"))
    assert samples.values("workload").distinct().count() <= 12
    assert samples.filter(gpu_allocated_micro__gt=0).exists()
    # Fractional GPUs, idle GPUs, and CPU use both below and above the allocation.
    assert samples.filter(gpu_allocated_micro__in=[250_000, 500_000]).exists()
    assert samples.filter(gpu_idle_micro__gt=0).exists()
    assert samples.filter(cpu_used_micro__gt=F("cpu_allocated_micro")).exists()
    assert samples.filter(cpu_used_micro__lt=F("cpu_allocated_micro")).exists()
    # Idle spells: not every workload runs every hour.
    hours = samples.values("start_epoch").distinct().count()
    assert samples.count() < hours * samples.values("workload").distinct().count()
    assert UsageRollup.objects.filter(project__cluster__tenant__slug="demo").exists()


@pytest.mark.django_db
@pytest.mark.time_machine(NOW, tick=False)
class TestSeedDemo:
    def test_it_can_run_again_without_errors_or_duplicates(self, capsys):
        call_command("seed_demo")
        counts = {model: model.objects.count() for model in MODELS}
        call_command("seed_demo")
        assert {model: model.objects.count() for model in MODELS} == counts
        assert counts[Cluster] == 3
        assert "viewer@demo.example" in capsys.readouterr().out

    def test_every_printed_login_works(self, capsys):
        call_command("seed_demo")
        out = capsys.readouterr().out
        emails = [line.split()[0] for line in out.splitlines() if "@" in line.split()[0]]
        assert len(emails) == 6
        assert f"password is: {DEMO_PASSWORD}" in out
        for email in emails:
            assert authenticate(username=email, password=DEMO_PASSWORD) is not None, email

    def test_the_roles_see_what_they_should(self):
        call_command("seed_demo", stdout=None)
        users = {u.email: u for u in User.objects.all()}
        demo_projects = {
            "gpu-east/vision",
            "gpu-east/nlp",
            "gpu-east/recsys",
            "gpu-west/speech",
            "gpu-west/infra",
        }
        assert project_names(users["viewer@demo.example"]) == demo_projects
        assert permissions.holds_at_tenant_scope(users["viewer@demo.example"], "project", "read")
        assert project_names(users["dept-admin@demo.example"]) == {
            "gpu-east/vision",
            "gpu-east/nlp",
        }
        assert project_names(users["researcher@demo.example"]) == {"gpu-east/vision"}
        assert project_names(users["viewer@other.example"]) == {"lab/robotics"}
        assert project_names(users["ops@demo.example"]) == set()
        assert users["ops@demo.example"].is_staff

    def test_each_cluster_has_its_default_node_pool(self):
        call_command("seed_demo", stdout=None)
        for cluster in Cluster.objects.all():
            assert cluster.nodepools.filter(name="default").exists()

    def test_the_usage_is_realistic(self):
        call_command("seed_demo", "--days", "3", "--workloads", "12", stdout=None)
        assert_the_usage_is_realistic()

    @pytest.mark.parametrize("hour", range(24))
    def test_at_any_hour_of_the_day(self, hour):
        # How much of today has passed changes the period's length, not what the workloads are.
        with time_machine.travel(NOW.replace(hour=hour), tick=False):
            call_command("seed_demo", "--days", "3", "--workloads", "12", stdout=None)
        assert_the_usage_is_realistic()

    def test_it_makes_a_few_reports_of_every_status(self):
        call_command("seed_demo", "--days", "3", "--workloads", "12", stdout=None)
        reports = Report.objects.filter(tenant__slug="demo")
        assert sorted(reports.values_list("status", flat=True)) == [
            ReportStatus.FAILED,
            ReportStatus.PENDING,
            ReportStatus.READY,
            ReportStatus.READY,
            ReportStatus.READY,
        ]
        for report in reports.filter(status=ReportStatus.READY):
            assert report.row_count > 0 and report.file, report.name
            assert report.summary["preview"], report.name
        failed = reports.get(status=ReportStatus.FAILED)
        assert failed.status_message == OPERATOR_FAILED_MESSAGE
        assert set(reports.values_list("created_by", flat=True)) == {"viewer@demo.example"}

    def test_logins_alone_are_printed_without_touching_the_data(self, capsys):
        call_command("seed_demo", "--logins")
        out = capsys.readouterr().out
        emails = [line.split()[0] for line in out.splitlines() if "@" in line.split()[0]]
        assert len(emails) == 6 and "viewer@demo.example" in emails
        assert f"password is: {DEMO_PASSWORD}" in out
        assert not Tenant.objects.exists()

    def test_bad_options_are_refused(self):
        with pytest.raises(CommandError, match="--days must be from 1 to 400"):
            call_command("seed_demo", "--days", "0", stdout=None)


class TestUsageRows:
    """The generator behind the demo: each workload is the same however the period is cut."""

    START = datetime(2026, 3, 1, tzinfo=UTC)

    def test_a_shorter_period_has_the_first_hours_of_a_longer_one(self):
        placements = synthetic_placements(clusters=1, departments=2, projects=2)
        short = list(usage_rows(placements, workloads=8, start=self.START, hours=10))
        long = list(usage_rows(placements, workloads=8, start=self.START, hours=40))
        assert short == [row for row in long if row[6] < "2026-03-01T10"]

    def test_fewer_workloads_are_the_first_of_more(self):
        placements = synthetic_placements(clusters=1, departments=2, projects=2)
        few = list(usage_rows(placements, workloads=3, start=self.START, hours=24))
        many = list(usage_rows(placements, workloads=8, start=self.START, hours=24))
        first_three = {row[5] for row in few}
        assert len(first_three) == 3
        assert few == [row for row in many if row[5] in first_three]
