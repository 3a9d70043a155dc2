"""What the database and model validation refuse in the tenancy app, and the helpers on its models:
the default node pool, service-account secrets and the e-mail login."""

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.forms import modelform_factory

from reports_site.tenancy.models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Role,
    ScopeType,
    ServiceAccount,
    User,
)
from tests.factories import (
    TEST_PASSWORD,
    ClusterFactory,
    DepartmentFactory,
    NodePoolFactory,
    ProjectFactory,
    ServiceAccountFactory,
    UserFactory,
    grant,
)


@pytest.fixture
def robot(tenant):
    """Acme's service account."""
    return ServiceAccountFactory(tenant=tenant, name="robot")


@pytest.fixture
def cast(alice, charlie, robot, other_tenant, org, other_org):
    """Subjects and units by name; `globex-*` are Globex's."""
    return {
        "alice": alice,
        "charlie": charlie,
        "robot": robot,
        "globex-robot": ServiceAccountFactory(tenant=other_tenant, name="robot"),
        **org,
        "globex-east": other_org["east"],
        "globex-research": other_org["research"],
        "globex-vision": other_org["vision"],
    }


def new_rule(tenant, cast, scope_type, **names) -> AccessRule:
    """An unsaved Viewer rule of Acme whose other fields are looked up in `cast` by name."""
    return AccessRule(
        tenant=tenant,
        role=Role.objects.get(name="Viewer"),
        scope_type=scope_type,
        **{field: cast[name] for field, name in names.items()},
    )


# --- AccessRule: the database's check constraints ------------------------------------------------

BROKEN_RULES = [
    pytest.param(ScopeType.TENANT, {}, "access_rule_has_one_subject", id="no subject"),
    pytest.param(
        ScopeType.TENANT,
        {"user": "alice", "service_account": "robot"},
        "access_rule_has_one_subject",
        id="two subjects",
    ),
    pytest.param(
        ScopeType.TENANT,
        {"user": "alice", "cluster": "east"},
        "access_rule_scope_matches_type",
        id="tenant scope with a cluster",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice"},
        "access_rule_scope_matches_type",
        id="cluster scope without a cluster",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice", "department": "research"},
        "access_rule_scope_matches_type",
        id="cluster scope naming a department",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice", "cluster": "east", "department": "research"},
        "access_rule_scope_matches_type",
        id="cluster scope with a department too",
    ),
    pytest.param(
        ScopeType.DEPARTMENT,
        {"service_account": "robot", "cluster": "east"},
        "access_rule_scope_matches_type",
        id="department scope naming a cluster",
    ),
    pytest.param(
        ScopeType.DEPARTMENT,
        {"user": "alice", "department": "research", "project": "vision"},
        "access_rule_scope_matches_type",
        id="department scope with a project too",
    ),
    pytest.param(
        ScopeType.PROJECT,
        {"user": "alice"},
        "access_rule_scope_matches_type",
        id="project scope without a project",
    ),
    pytest.param(
        ScopeType.PROJECT,
        {"user": "alice", "department": "research"},
        "access_rule_scope_matches_type",
        id="project scope naming a department",
    ),
]


@pytest.mark.parametrize("scope_type, names, constraint", BROKEN_RULES)
def test_the_database_refuses_a_malformed_rule(tenant, cast, scope_type, names, constraint):
    rule = new_rule(tenant, cast, scope_type, **names)

    with transaction.atomic(), pytest.raises(IntegrityError, match=constraint):
        rule.save()

    assert list(AccessRule.objects.all()) == []


WELL_FORMED_RULES = [
    pytest.param(ScopeType.TENANT, {"user": "alice"}, None, id="user at tenant scope"),
    pytest.param(
        ScopeType.TENANT, {"service_account": "robot"}, None, id="service account at tenant scope"
    ),
    pytest.param(
        ScopeType.CLUSTER, {"user": "alice", "cluster": "east"}, "east", id="cluster scope"
    ),
    pytest.param(
        ScopeType.DEPARTMENT,
        {"service_account": "robot", "department": "research"},
        "research",
        id="department scope",
    ),
    pytest.param(
        ScopeType.PROJECT, {"user": "alice", "project": "vision"}, "vision", id="project scope"
    ),
]


@pytest.mark.parametrize("scope_type, names, unit", WELL_FORMED_RULES)
def test_a_well_formed_rule_validates_and_saves(tenant, cast, scope_type, names, unit):
    rule = new_rule(tenant, cast, scope_type, **names)

    rule.full_clean()
    rule.save()

    saved = AccessRule.objects.get()
    assert saved.subject == cast[next(iter(names.values()))]
    assert saved.scope_unit == (tenant if unit is None else cast[unit])


# --- AccessRule.clean: the messages an operator sees ---------------------------------------------

INVALID_RULES = [
    pytest.param(
        ScopeType.TENANT,
        {},
        {"user": ["Choose either a user or a service account."]},
        id="no subject",
    ),
    pytest.param(
        ScopeType.TENANT,
        {"user": "alice", "service_account": "robot"},
        {"user": ["Choose either a user or a service account."]},
        id="two subjects",
    ),
    pytest.param(
        ScopeType.TENANT,
        {"user": "charlie"},
        {"tenant": ["The subject belongs to another tenant."]},
        id="user of another tenant",
    ),
    pytest.param(
        ScopeType.TENANT,
        {"service_account": "globex-robot"},
        {"tenant": ["The subject belongs to another tenant."]},
        id="service account of another tenant",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice", "cluster": "globex-east"},
        {"cluster": ["The cluster belongs to another tenant."]},
        id="cluster of another tenant",
    ),
    pytest.param(
        ScopeType.DEPARTMENT,
        {"user": "alice", "department": "globex-research"},
        {"department": ["The department belongs to another tenant."]},
        id="department of another tenant",
    ),
    pytest.param(
        ScopeType.PROJECT,
        {"service_account": "robot", "project": "globex-vision"},
        {"project": ["The project belongs to another tenant."]},
        id="project of another tenant",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "charlie", "cluster": "globex-east"},
        {
            "tenant": ["The subject belongs to another tenant."],
            "cluster": ["The cluster belongs to another tenant."],
        },
        id="subject and unit of another tenant",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice"},
        {"cluster": ["A cluster scope needs a cluster."]},
        id="missing cluster",
    ),
    pytest.param(
        ScopeType.DEPARTMENT,
        {"user": "alice"},
        {"department": ["A department scope needs a department."]},
        id="missing department",
    ),
    pytest.param(
        ScopeType.PROJECT,
        {"user": "alice"},
        {"project": ["A project scope needs a project."]},
        id="missing project",
    ),
    pytest.param(
        ScopeType.TENANT,
        {"user": "alice", "cluster": "east"},
        {"cluster": ["Leave this empty for a tenant scope."]},
        id="extra cluster",
    ),
    pytest.param(
        ScopeType.PROJECT,
        {"user": "alice", "department": "research", "project": "vision"},
        {"department": ["Leave this empty for a project scope."]},
        id="extra department",
    ),
    pytest.param(
        ScopeType.CLUSTER,
        {"user": "alice", "department": "research"},
        {
            "cluster": ["A cluster scope needs a cluster."],
            "department": ["Leave this empty for a cluster scope."],
        },
        id="wrong unit",
    ),
]


@pytest.mark.parametrize("scope_type, names, messages", INVALID_RULES)
def test_clean_explains_what_is_wrong_with_a_rule(tenant, cast, scope_type, names, messages):
    rule = new_rule(tenant, cast, scope_type, **names)

    with pytest.raises(ValidationError) as raised:
        rule.clean()

    assert raised.value.message_dict == messages


@pytest.mark.parametrize("subject_field", ["user", "service_account"])
def test_a_subject_holds_a_role_in_a_scope_only_once(tenant, cast, subject_field):
    subject = cast["alice"] if subject_field == "user" else cast["robot"]
    first = grant(subject, "Viewer", cast["east"])

    with transaction.atomic(), pytest.raises(IntegrityError):
        grant(subject, "Viewer", cast["east"])

    assert list(AccessRule.objects.all()) == [first]


# --- Unique names -------------------------------------------------------------------------------


def test_a_cluster_name_is_unique_in_its_tenant(tenant, other_tenant, org):
    with transaction.atomic(), pytest.raises(IntegrityError):
        ClusterFactory(tenant=tenant, name="east")

    globex_east = ClusterFactory(tenant=other_tenant, name="east")

    assert set(Cluster.objects.filter(name="east")) == {org["east"], globex_east}


def test_a_department_name_is_unique_in_its_cluster(org):
    with transaction.atomic(), pytest.raises(IntegrityError):
        DepartmentFactory(cluster=org["east"], name="research")

    west_research = DepartmentFactory(cluster=org["west"], name="research")

    assert set(Department.objects.filter(name="research")) == {org["research"], west_research}


def test_a_project_name_is_unique_in_its_cluster_across_departments(org):
    with transaction.atomic(), pytest.raises(IntegrityError):
        ProjectFactory(department=org["ops"], name="vision")

    west_vision = ProjectFactory(department=org["training"], name="vision")

    assert set(Project.objects.filter(name="vision")) == {org["vision"], west_vision}


def test_a_node_pool_name_is_unique_in_its_cluster(org):
    east_default = NodePool.objects.get(cluster=org["east"], name="default")

    with transaction.atomic(), pytest.raises(IntegrityError):
        NodePoolFactory(cluster=org["east"], name="default")

    east_a100 = NodePoolFactory(cluster=org["east"], name="a100")
    west_a100 = NodePoolFactory(cluster=org["west"], name="a100")

    assert set(NodePool.objects.filter(cluster=org["east"])) == {east_default, east_a100}
    assert set(NodePool.objects.filter(name="a100")) == {east_a100, west_a100}


def test_a_user_email_is_unique_whatever_its_case(alice, tenant):
    with (
        transaction.atomic(),
        pytest.raises(IntegrityError, match="user_email_unique_ignoring_case"),
    ):
        UserFactory(email="ALICE@Acme.Example", tenant=tenant)
    with transaction.atomic(), pytest.raises(IntegrityError):
        User.objects.create_user("Alice@ACME.example", TEST_PASSWORD, tenant=tenant)

    assert list(User.objects.all()) == [alice]


def test_a_service_account_name_is_unique_in_its_tenant(tenant, other_tenant, robot):
    with transaction.atomic(), pytest.raises(IntegrityError):
        ServiceAccountFactory(tenant=tenant, name="robot")

    globex_robot = ServiceAccountFactory(tenant=other_tenant, name="robot")

    assert set(ServiceAccount.objects.filter(name="robot")) == {robot, globex_robot}


# --- Clusters, node pools and projects ----------------------------------------------------------


def create(tenant, name):
    return Cluster.objects.create(tenant=tenant, name=name)


def get_or_create(tenant, name):
    cluster, created = Cluster.objects.get_or_create(tenant=tenant, name=name)
    assert created
    return cluster


def save_a_model_form(tenant, name):
    # How the admin creates a cluster: ModelForm.save() calls Cluster.save().
    form = modelform_factory(Cluster, fields=["tenant", "name"])(
        data={"tenant": tenant.pk, "name": name}
    )
    assert form.is_valid(), form.errors
    return form.save()


@pytest.mark.parametrize("make_cluster", [create, get_or_create, save_a_model_form])
def test_a_new_cluster_gets_its_default_node_pool(tenant, make_cluster):
    cluster = make_cluster(tenant, "north")

    assert list(cluster.nodepools.values_list("name", flat=True)) == ["default"]


def test_ensure_default_nodepool_keeps_one_default_pool(tenant):
    cluster = Cluster.objects.create(tenant=tenant, name="north")
    pool = NodePool.objects.get(cluster=cluster, name="default")

    assert cluster.ensure_default_nodepool() == pool
    assert list(cluster.nodepools.all()) == [pool]


def test_project_clean_rejects_a_department_of_another_cluster(org):
    project = Project(cluster=org["west"], department=org["research"], name="speech")

    with pytest.raises(ValidationError) as raised:
        project.clean()

    assert raised.value.message_dict == {
        "department": ["The department must belong to the project's cluster."]
    }


def test_project_clean_accepts_a_department_of_its_cluster(org):
    project = Project(cluster=org["east"], department=org["research"], name="speech")

    project.full_clean()
    project.save()

    assert set(org["research"].projects.all()) == {org["vision"], org["nlp"], project}


# --- Service-account secrets --------------------------------------------------------------------


def test_a_new_secret_is_checked_against_a_stored_hash_not_the_secret(robot):
    secret = robot.set_new_secret()
    robot.save()

    stored = ServiceAccount.objects.get(pk=robot.pk)
    assert stored.check_secret(secret)
    assert not stored.check_secret(secret + "x")
    assert not stored.check_secret("")
    assert stored.secret_hash
    assert secret not in stored.secret_hash


def test_a_new_secret_replaces_the_old_one(robot):
    old = robot.set_new_secret()
    new = robot.set_new_secret()
    robot.save()

    stored = ServiceAccount.objects.get(pk=robot.pk)
    assert old != new
    assert stored.check_secret(new)
    assert not stored.check_secret(old)


def test_an_account_without_a_secret_accepts_none(robot):
    assert robot.secret_hash == ""
    assert not robot.check_secret("")
    assert not robot.check_secret("anything")


def test_each_service_account_gets_its_own_client_id(tenant, robot):
    other = ServiceAccountFactory(tenant=tenant, name="robot-2")

    assert robot.client_id != other.client_id
    assert len(robot.client_id) == 32
    assert set(ServiceAccount.objects.filter(client_id=robot.client_id)) == {robot}


# --- Users --------------------------------------------------------------------------------------


def test_create_user_stores_the_email_in_lower_case(tenant):
    user = User.objects.create_user("Dora@Acme.EXAMPLE", TEST_PASSWORD, tenant=tenant)

    stored = User.objects.get(pk=user.pk)
    assert stored.email == "dora@acme.example"
    assert stored.check_password(TEST_PASSWORD)
    assert not stored.is_staff
    assert not stored.is_superuser


def test_create_user_requires_an_email(tenant):
    with pytest.raises(ValueError, match="e-mail address is required"):
        User.objects.create_user("", TEST_PASSWORD, tenant=tenant)

    assert list(User.objects.all()) == []


@pytest.mark.parametrize(
    "login", ["alice@acme.example", "ALICE@ACME.EXAMPLE", "Alice@Acme.example"]
)
def test_authenticate_finds_a_user_by_email_whatever_the_case(alice, login):
    assert authenticate(username=login, password=TEST_PASSWORD) == alice
    assert authenticate(email=login, password=TEST_PASSWORD) == alice


def test_authenticate_finds_a_user_stored_with_capitals(tenant):
    erin = UserFactory(email="Erin@Acme.example", tenant=tenant)

    assert authenticate(username="erin@acme.example", password=TEST_PASSWORD) == erin


def test_authenticate_refuses_a_wrong_password_and_an_inactive_user(alice, bob):
    bob.is_active = False
    bob.save()

    assert authenticate(username="alice@acme.example", password="wrong") is None
    assert authenticate(username="bob@acme.example", password=TEST_PASSWORD) is None
    assert authenticate(username="nobody@acme.example", password=TEST_PASSWORD) is None


def test_create_superuser_makes_an_operator_without_a_tenant(db):
    operator = User.objects.create_superuser("Root@Example.com", TEST_PASSWORD)

    stored = User.objects.get(pk=operator.pk)
    assert stored.email == "root@example.com"
    assert stored.is_staff
    assert stored.is_superuser
    assert stored.tenant is None
    assert authenticate(username="ROOT@example.com", password=TEST_PASSWORD) == stored
