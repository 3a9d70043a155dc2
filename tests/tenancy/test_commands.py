"""The operator commands: create_tenant, add_user, grant and create_service_account."""

import json
import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reports_site.tenancy.models import (
    AccessRule,
    Project,
    Role,
    ScopeType,
    ServiceAccount,
    Tenant,
    User,
)
from reports_site.tenancy.scopes import parse_scope
from tests.factories import ServiceAccountFactory, UserFactory, grant

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STRONG_PASSWORD = "violet-tractor-84-quietly"


def run(name: str, *args: str) -> tuple[str, str]:
    """Run a command in-process; return what it wrote to stdout and stderr."""
    stdout, stderr = StringIO(), StringIO()
    call_command(name, *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def run_in_shell(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run `manage.py` in a real process, against a database file that must stay untouched."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reports_site.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'untouched.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_help_explains(tmp_path: Path, name: str, *phrases: str) -> None:
    result = run_in_shell(tmp_path, name, "--help")
    assert result.returncode == 0, result.stderr
    help_text = " ".join(result.stdout.split())  # argparse wraps lines
    for phrase in phrases:
        assert phrase in help_text
    assert not (tmp_path / "untouched.sqlite3").exists()


class TestCreateTenant:
    def test_it_creates_the_tenant(self, db):
        out, _ = run("create_tenant", "acme", "--name", "  Acme Corp ")
        tenant = Tenant.objects.get(slug="acme")
        assert tenant.name == "Acme Corp"
        assert out == f"Created tenant acme (id {tenant.pk}).\n"

    @pytest.mark.parametrize(
        "slug", ["Acme", "ac me", "acme_corp", "-acme", "acme-", "acmé", "acme.example", ""]
    )
    def test_it_rejects_an_invalid_slug(self, db, slug):
        with pytest.raises(CommandError, match=f"Invalid slug '{re.escape(slug)}': must be lower"):
            # "--" so that argparse takes "-acme" as the slug, not as an option.
            run("create_tenant", "--name", "Acme", "--", slug)
        assert not Tenant.objects.exists()

    def test_it_rejects_a_slug_longer_than_the_field(self, db):
        with pytest.raises(CommandError, match="at most 63 characters"):
            run("create_tenant", "a" * 64, "--name", "Acme")
        assert not Tenant.objects.exists()

    def test_it_rejects_a_taken_slug(self, tenant):
        with pytest.raises(CommandError, match=r"^Tenant 'acme' already exists\.$"):
            run("create_tenant", "acme", "--name", "Another Acme")
        assert list(Tenant.objects.values_list("slug", "name")) == [("acme", "Acme")]

    @pytest.mark.parametrize("name", ["", "   "])
    def test_it_rejects_an_empty_name(self, db, name):
        with pytest.raises(CommandError, match="The tenant name must not be empty."):
            run("create_tenant", "acme", "--name", name)
        assert not Tenant.objects.exists()

    def test_it_requires_a_name(self, db):
        with pytest.raises(CommandError, match="--name"):
            run("create_tenant", "acme")
        assert not Tenant.objects.exists()

    def test_its_help_explains_it(self, tmp_path):
        assert_help_explains(tmp_path, "create_tenant", "Create a tenant", "SLUG", "--name")

    def test_it_exits_non_zero_from_the_shell_before_touching_the_database(self, tmp_path):
        result = run_in_shell(tmp_path, "create_tenant", "Not A Slug", "--name", "Acme")
        assert result.returncode == 1
        assert "Invalid slug 'Not A Slug'" in result.stderr
        assert result.stdout == ""
        assert not (tmp_path / "untouched.sqlite3").exists()


class TestAddUser:
    def test_it_creates_the_user_with_the_given_password(self, tenant):
        out, _ = run(
            "add_user",
            "--tenant",
            "acme",
            "Dana@Acme.example",
            "--password",
            STRONG_PASSWORD,
            "--name",
            "Dana Scully",
        )
        user = User.objects.get(email="dana@acme.example")
        assert user.tenant == tenant
        assert user.full_name == "Dana Scully"
        assert user.is_active and not user.is_staff
        assert user.check_password(STRONG_PASSWORD)
        assert out == "Created user dana@acme.example in tenant acme.\n"
        assert STRONG_PASSWORD not in out

    def test_it_generates_a_strong_password_and_prints_it(self, tenant):
        out, _ = run("add_user", "--tenant", "acme", "dana@acme.example")
        password = re.search(r"^Password: (\S+)$", out, re.MULTILINE).group(1)
        assert len(password) >= 24
        user = User.objects.get(email="dana@acme.example")
        assert user.check_password(password)
        assert not user.check_password(password[:-1])
        assert "dana@acme.example" in out
        assert "cannot be shown again" in out

    def test_it_generates_a_different_password_each_time(self, tenant):
        first, _ = run("add_user", "--tenant", "acme", "dana@acme.example")
        second, _ = run("add_user", "--tenant", "acme", "erin@acme.example")
        assert first.split("Password: ")[1] != second.split("Password: ")[1]

    def test_it_rejects_an_unknown_tenant(self, tenant):
        with pytest.raises(CommandError, match=r"^Tenant 'nope' does not exist\.$"):
            run("add_user", "--tenant", "nope", "dana@acme.example")
        assert not User.objects.exists()

    @pytest.mark.parametrize("email", ["dana", "dana@", "@acme.example", "dana acme@example.com"])
    def test_it_rejects_an_invalid_email(self, tenant, email):
        with pytest.raises(CommandError, match=f"'{email}' is not a valid e-mail address"):
            run("add_user", "--tenant", "acme", email)
        assert not User.objects.exists()

    def test_it_rejects_an_email_that_is_taken_ignoring_case(self, alice, other_tenant):
        with pytest.raises(
            CommandError, match=r"A user with the e-mail 'ALICE@acme\.example' already exists"
        ):
            run("add_user", "--tenant", "globex", "ALICE@acme.example")
        assert list(User.objects.all()) == [alice]
        assert alice.tenant.slug == "acme"

    def test_it_rejects_a_weak_password(self, tenant):
        with pytest.raises(CommandError, match="Weak password: This password is too short"):
            run("add_user", "--tenant", "acme", "dana@acme.example", "--password", "abc")
        assert not User.objects.exists()

    def test_its_help_explains_it(self, tmp_path):
        assert_help_explains(
            tmp_path, "add_user", "Create a user of a tenant", "--tenant SLUG", "--password"
        )


class TestGrant:
    def test_it_grants_a_role_in_a_project(self, alice, org):
        out, _ = run(
            "grant",
            "alice@acme.example",
            "--role",
            "L1 researcher",
            "--scope",
            "project:east/vision",
        )
        assert out == "alice@acme.example is now L1 researcher in project east/vision.\n"
        rule = AccessRule.objects.get()
        assert (rule.tenant, rule.user, rule.service_account) == (alice.tenant, alice, None)
        assert rule.role.name == "L1 researcher"
        assert (rule.scope_type, rule.project) == (ScopeType.PROJECT, org["vision"])
        assert org["vision"] in Project.objects.permitted(alice, "read")
        assert org["nlp"] not in Project.objects.permitted(alice, "read")

    @pytest.mark.parametrize(
        ("scope", "scope_type", "unit", "label"),
        [
            ("tenant", ScopeType.TENANT, None, "tenant acme"),
            ("cluster:west", ScopeType.CLUSTER, "west", "cluster west"),
            (
                "department:east/research",
                ScopeType.DEPARTMENT,
                "research",
                "department east/research",
            ),
            ("project:west/llm", ScopeType.PROJECT, "llm", "project west/llm"),
        ],
    )
    def test_it_grants_a_role_in_every_kind_of_scope(
        self, alice, org, scope, scope_type, unit, label
    ):
        out, _ = run("grant", "alice@acme.example", "--role", "Viewer", "--scope", scope)
        assert out == f"alice@acme.example is now Viewer in {label}.\n"
        rule = AccessRule.objects.get()
        assert rule.scope_type == scope_type
        assert rule.scope_unit == (alice.tenant if unit is None else org[unit])
        rule.full_clean()

    def test_it_matches_the_role_name_ignoring_case(self, alice, org):
        out, _ = run("grant", "ALICE@acme.example", "--role", "l1 RESEARCHER", "--scope", "tenant")
        assert out == "alice@acme.example is now L1 researcher in tenant acme.\n"
        assert AccessRule.objects.get().role == Role.objects.get(name="L1 researcher")

    def test_it_grants_a_role_to_a_service_account(self, tenant, org):
        account = ServiceAccountFactory(tenant=tenant, name="ci-bot")
        out, _ = run("grant", "sa:ci-bot", "--role", "Research manager", "--scope", "cluster:east")
        assert out == "sa:ci-bot is now Research manager in cluster east.\n"
        rule = AccessRule.objects.get()
        assert (rule.tenant, rule.user, rule.service_account) == (tenant, None, account)
        assert (rule.scope_type, rule.cluster) == (ScopeType.CLUSTER, org["east"])

    def test_it_picks_the_service_account_of_the_given_tenant(self, org, other_org):
        ServiceAccountFactory(tenant=org["east"].tenant, name="ci-bot")
        globex_bot = ServiceAccountFactory(tenant=other_org["east"].tenant, name="ci-bot")
        run(
            "grant",
            "sa:ci-bot",
            "--tenant",
            "globex",
            "--role",
            "Viewer",
            "--scope",
            "project:east/vision",
        )
        rule = AccessRule.objects.get()
        assert (rule.service_account, rule.project) == (globex_bot, other_org["vision"])

    def test_it_rejects_a_service_account_name_that_several_tenants_use(self, tenant, other_tenant):
        ServiceAccountFactory(tenant=other_tenant, name="ci-bot")
        ServiceAccountFactory(tenant=tenant, name="ci-bot")
        with pytest.raises(
            CommandError,
            match=r"Service account 'ci-bot' exists in several tenants \(acme, globex\); "
            "choose one with --tenant",
        ):
            run("grant", "sa:ci-bot", "--role", "Viewer", "--scope", "tenant")
        assert not AccessRule.objects.exists()

    def test_it_rejects_an_unknown_service_account(self, tenant):
        ServiceAccountFactory(tenant=tenant, name="ci-bot")
        with pytest.raises(CommandError, match=r"^Service account 'cd-bot' not found\.$"):
            run("grant", "sa:cd-bot", "--role", "Viewer", "--scope", "tenant")
        assert not AccessRule.objects.exists()

    def test_it_rejects_a_service_account_of_another_tenant(self, tenant, other_tenant):
        ServiceAccountFactory(tenant=other_tenant, name="ci-bot")
        with pytest.raises(
            CommandError, match=r"^Service account 'ci-bot' not found in tenant acme\.$"
        ):
            run("grant", "sa:ci-bot", "--tenant", "acme", "--role", "Viewer", "--scope", "tenant")
        assert not AccessRule.objects.exists()

    def test_it_rejects_an_empty_service_account_name(self, tenant):
        with pytest.raises(CommandError, match="Missing service account name: write sa:NAME"):
            run("grant", "sa:", "--role", "Viewer", "--scope", "tenant")

    def test_it_rejects_an_unknown_user(self, alice):
        with pytest.raises(CommandError, match=r"^User 'dana@acme\.example' not found\.$"):
            run("grant", "dana@acme.example", "--role", "Viewer", "--scope", "tenant")
        assert not AccessRule.objects.exists()

    def test_it_rejects_a_user_of_another_tenant_than_the_given_one(self, alice, charlie):
        with pytest.raises(
            CommandError, match=r"^User 'charlie@globex\.example' not found in tenant acme\.$"
        ):
            run(
                "grant",
                "charlie@globex.example",
                "--tenant",
                "acme",
                "--role",
                "Viewer",
                "--scope",
                "tenant",
            )
        assert not AccessRule.objects.exists()

    def test_it_rejects_an_unknown_tenant(self, alice):
        with pytest.raises(CommandError, match=r"^Tenant 'nope' does not exist\.$"):
            run(
                "grant",
                "alice@acme.example",
                "--tenant",
                "nope",
                "--role",
                "Viewer",
                "--scope",
                "tenant",
            )
        assert not AccessRule.objects.exists()

    def test_it_rejects_an_operator_without_a_tenant(self, db):
        UserFactory(email="ops@example.com", tenant=None, is_staff=True)
        with pytest.raises(
            CommandError,
            match="User ops@example.com has no tenant: operators cannot be granted tenant roles.",
        ):
            run("grant", "ops@example.com", "--role", "Viewer", "--scope", "tenant")
        assert not AccessRule.objects.exists()

    def test_it_rejects_an_unknown_role_listing_the_available_ones(self, alice):
        with pytest.raises(CommandError) as raised:
            run("grant", "alice@acme.example", "--role", "Researcher", "--scope", "tenant")
        assert str(raised.value) == (
            "Unknown role 'Researcher'. Available roles: Department administrator, Editor, "
            "L1 researcher, ML engineer, Research manager, System administrator, Viewer."
        )
        assert not AccessRule.objects.exists()

    @pytest.mark.parametrize(
        "scope",
        ["", "acme", "everything", "tenant:acme", "cluster", "region:east", "Tenant"],
    )
    def test_it_rejects_a_malformed_scope_listing_the_accepted_forms(self, alice, scope):
        with pytest.raises(CommandError) as raised:
            run("grant", "alice@acme.example", "--role", "Viewer", "--scope", scope)
        assert str(raised.value) == (
            f"Malformed scope '{scope}'; expected one of: tenant, cluster:NAME, "
            "department:CLUSTER/NAME, project:CLUSTER/NAME."
        )
        assert not AccessRule.objects.exists()

    @pytest.mark.parametrize(
        ("scope", "expected"),
        [
            ("cluster:", "a cluster scope is cluster:NAME."),
            ("cluster:east/research", "a cluster scope is cluster:NAME."),
            ("department:east", "a department scope is department:CLUSTER/NAME."),
            ("project:east/", "a project scope is project:CLUSTER/NAME."),
            ("project:/vision", "a project scope is project:CLUSTER/NAME."),
        ],
    )
    def test_it_rejects_a_scope_path_of_the_wrong_shape(self, alice, org, scope, expected):
        with pytest.raises(CommandError, match=f"^Malformed scope '{scope}'; {expected}$"):
            run("grant", "alice@acme.example", "--role", "Viewer", "--scope", scope)
        assert not AccessRule.objects.exists()

    @pytest.mark.parametrize(
        ("scope", "expected"),
        [
            ("cluster:north", "Cluster 'north' not found in tenant acme."),
            ("department:north/research", "Cluster 'north' not found in tenant acme."),
            (
                "department:west/research",
                "Department 'research' not found in cluster west of tenant acme.",
            ),
            ("project:east/llm", "Project 'llm' not found in cluster east of tenant acme."),
            ("project:east/Vision", "Project 'Vision' not found in cluster east of tenant acme."),
        ],
    )
    def test_it_rejects_an_unknown_org_unit_naming_it(self, alice, org, scope, expected):
        with pytest.raises(CommandError) as raised:
            run("grant", "alice@acme.example", "--role", "Viewer", "--scope", scope)
        assert str(raised.value) == expected
        assert not AccessRule.objects.exists()

    def test_it_never_uses_another_tenants_org_units(self, org, other_org, charlie):
        # Globex has east/research/vision too, but no west cluster and no project nlp.
        with pytest.raises(CommandError, match="Cluster 'west' not found in tenant globex."):
            run("grant", "charlie@globex.example", "--role", "Viewer", "--scope", "cluster:west")
        with pytest.raises(
            CommandError, match="Project 'nlp' not found in cluster east of tenant globex."
        ):
            run(
                "grant", "charlie@globex.example", "--role", "Viewer", "--scope", "project:east/nlp"
            )
        assert not AccessRule.objects.exists()

        run("grant", "charlie@globex.example", "--role", "Viewer", "--scope", "project:east/vision")
        rule = AccessRule.objects.get()
        assert (rule.tenant, rule.project) == (charlie.tenant, other_org["vision"])

    def test_it_rejects_a_rule_that_exists_already(self, alice, org):
        existing = grant(alice, "L1 researcher", org["vision"])
        with pytest.raises(
            CommandError,
            match=r"^alice@acme\.example is already L1 researcher in project east/vision\.$",
        ):
            run(
                "grant",
                "alice@acme.example",
                "--role",
                "l1 researcher",
                "--scope",
                "project:east/vision",
            )
        assert list(AccessRule.objects.all()) == [existing]

    def test_it_rejects_a_tenant_rule_that_exists_already(self, alice):
        existing = grant(alice, "Viewer", alice.tenant)
        with pytest.raises(CommandError, match="is already Viewer in tenant acme"):
            run("grant", "alice@acme.example", "--role", "Viewer", "--scope", "tenant")
        assert list(AccessRule.objects.all()) == [existing]

    def test_it_adds_another_role_in_the_same_scope(self, alice, org):
        grant(alice, "L1 researcher", org["vision"])
        run("grant", "alice@acme.example", "--role", "Editor", "--scope", "project:east/vision")
        assert sorted(AccessRule.objects.values_list("role__name", flat=True)) == [
            "Editor",
            "L1 researcher",
        ]

    def test_its_help_explains_it(self, tmp_path):
        assert_help_explains(
            tmp_path,
            "grant",
            "sa:NAME for a service account",
            "--role ROLE",
            "department:CLUSTER/NAME",
            "project:CLUSTER/NAME",
        )


class TestParseScope:
    def test_it_returns_the_scope_type_and_unit(self, org):
        tenant = org["east"].tenant
        assert parse_scope("tenant", tenant) == (ScopeType.TENANT, tenant)
        assert parse_scope("department:east/ops", tenant) == (ScopeType.DEPARTMENT, org["ops"])
        scope_type, unit = parse_scope("project:west/llm", tenant)
        assert (scope_type, unit) == (ScopeType.PROJECT, org["llm"])

    def test_it_gives_the_access_rule_fields(self, org):
        tenant = org["east"].tenant
        assert parse_scope("tenant", tenant).rule_fields == {"scope_type": ScopeType.TENANT}
        assert parse_scope("cluster:east", tenant).rule_fields == {
            "scope_type": ScopeType.CLUSTER,
            "cluster": org["east"],
        }

    def test_it_raises_value_error_on_bad_input(self, org, other_tenant):
        with pytest.raises(ValueError, match="Malformed scope"):
            parse_scope("cluster", other_tenant)
        with pytest.raises(ValueError, match="Cluster 'east' not found in tenant globex"):
            parse_scope("cluster:east", other_tenant)


class TestCreateServiceAccount:
    def test_it_creates_the_account_with_a_secret_that_verifies(self, tenant):
        out, _ = run("create_service_account", "--tenant", "acme", "ci-bot")
        account = ServiceAccount.objects.get()
        assert (account.tenant, account.name, account.is_active) == (tenant, "ci-bot", True)
        lines = out.splitlines()
        assert lines[0] == "Created service account ci-bot in tenant acme."
        assert lines[1] == f"Client ID:     {account.client_id}"
        secret = lines[2].removeprefix("Client secret: ")
        assert account.check_secret(secret)
        assert not account.check_secret(secret + "x")
        assert secret not in account.secret_hash
        assert lines[3] == "Store the secret now: it cannot be shown again."

    def test_it_prints_exactly_one_json_object_with_json(self, tenant):
        out, err = run("create_service_account", "--tenant", "acme", "ci-bot", "--json")
        data = json.loads(out)
        account = ServiceAccount.objects.get()
        assert set(data) == {"name", "clientId", "clientSecret", "tenant"}
        assert (data["name"], data["clientId"], data["tenant"]) == (
            "ci-bot",
            account.client_id,
            "acme",
        )
        assert account.check_secret(data["clientSecret"])
        assert out.count("\n") == 1
        assert err == ""

    def test_it_gives_each_account_its_own_credentials(self, tenant):
        first = json.loads(run("create_service_account", "--tenant", "acme", "a", "--json")[0])
        second = json.loads(run("create_service_account", "--tenant", "acme", "b", "--json")[0])
        assert first["clientId"] != second["clientId"]
        assert first["clientSecret"] != second["clientSecret"]

    def test_it_rejects_an_unknown_tenant(self, tenant):
        with pytest.raises(CommandError, match=r"^Tenant 'nope' does not exist\.$"):
            run("create_service_account", "--tenant", "nope", "ci-bot")
        assert not ServiceAccount.objects.exists()

    def test_it_rejects_a_duplicate_name_in_the_tenant(self, tenant):
        existing = ServiceAccountFactory(tenant=tenant, name="ci-bot")
        with pytest.raises(
            CommandError, match=r"^Service account 'ci-bot' already exists in tenant acme\.$"
        ):
            run("create_service_account", "--tenant", "acme", "ci-bot", "--json")
        assert list(ServiceAccount.objects.all()) == [existing]
        existing.refresh_from_db()
        assert existing.secret_hash == ""

    def test_it_allows_the_same_name_in_another_tenant(self, tenant, other_tenant):
        ServiceAccountFactory(tenant=other_tenant, name="ci-bot")
        run("create_service_account", "--tenant", "acme", "ci-bot")
        assert ServiceAccount.objects.filter(name="ci-bot").count() == 2
        assert ServiceAccount.objects.get(tenant=tenant).name == "ci-bot"

    @pytest.mark.parametrize("name", ["", "  "])
    def test_it_rejects_an_empty_name(self, tenant, name):
        with pytest.raises(CommandError, match="The service account name must not be empty."):
            run("create_service_account", "--tenant", "acme", name)
        assert not ServiceAccount.objects.exists()

    def test_its_help_explains_it(self, tmp_path):
        assert_help_explains(
            tmp_path,
            "create_service_account",
            "Create a service account",
            "shown this once",
            "--json",
        )

    def test_it_exits_non_zero_from_the_shell_without_a_tenant(self, tmp_path):
        result = run_in_shell(tmp_path, "create_service_account", "ci-bot", "--json")
        assert result.returncode == 2
        assert "the following arguments are required: --tenant" in result.stderr
        assert result.stdout == ""
        assert not (tmp_path / "untouched.sqlite3").exists()
