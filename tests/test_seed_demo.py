"""`seed_demo` builds the demo org with users of several roles, and can run again."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import F

from consumption.models import UsageRollup, UsageSample
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
]


def project_names(user: User) -> set[str]:
    return {f"{p.cluster.name}/{p.name}" for p in permissions.readable_projects(user)}


@pytest.mark.django_db
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

    def test_bad_options_are_refused(self):
        with pytest.raises(CommandError, match="--days must be from 1 to 400"):
            call_command("seed_demo", "--days", "0", stdout=None)
