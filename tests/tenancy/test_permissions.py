"""The access rules of spec 2.2: what each predefined role grants, how far a rule's scope reaches,
and who holds nothing. Checked through permissions.py and the org-unit querysets built on it."""

import pytest
from django.contrib.auth.models import AnonymousUser

from reports_site.tenancy import permissions
from reports_site.tenancy.models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Role,
    ScopeType,
)
from tests.factories import NodePoolFactory, ServiceAccountFactory, UserFactory, grant

ACTIONS = ["create", "read", "update", "delete"]
RESOURCES = [
    "tenant",
    "cluster",
    "nodepools",
    "department",
    "project",
    "users",
    "service-account",
    "access_rules",
    "dashboards-consumption",
]
CRUD = {"create", "read", "update", "delete"}

# Spec 2.2, written out here on purpose: the migration must match the spec, not the other way round.
ROLE_TABLE = {
    "System administrator": {
        "tenant": CRUD,
        "cluster": CRUD,
        "nodepools": CRUD,
        "department": CRUD,
        "project": CRUD,
        "users": CRUD,
        "service-account": CRUD,
        "access_rules": CRUD,
        "dashboards-consumption": CRUD,
    },
    "Department administrator": {
        "department": CRUD,
        "project": CRUD,
        "cluster": {"read"},
        "nodepools": {"read"},
    },
    "Editor": {
        "department": {"read", "update"},
        "project": {"read", "update"},
        "cluster": {"read", "update"},
        "nodepools": {"read", "update"},
    },
    "Research manager": {"project": {"read"}, "department": {"read"}},
    "L1 researcher": {"project": {"read"}},
    "ML engineer": {"project": {"read"}},
    "Viewer": {
        "tenant": {"read"},
        "cluster": {"read"},
        "nodepools": {"read"},
        "department": {"read"},
        "project": {"read"},
        "users": {"read"},
        "service-account": {"read"},
        "access_rules": {"read"},
        "dashboards-consumption": {"read"},
    },
}

MODELS = [Cluster, NodePool, Department, Project]
RESOURCE_OF = {
    Cluster: "cluster",
    NodePool: "nodepools",
    Department: "department",
    Project: "project",
}

# What a rule in each scope of Acme's tree covers, by unit name (see the `units` fixture).
ALL_ACME_UNITS = [
    "east",
    "west",
    "east/default",
    "east/a100",
    "west/default",
    "research",
    "ops",
    "training",
    "vision",
    "nlp",
    "infra",
    "llm",
]
COVERAGE = {
    "tenant": set(ALL_ACME_UNITS),
    "east": {"east", "east/default", "east/a100", "research", "ops", "vision", "nlp", "infra"},
    "research": {"research", "vision", "nlp"},
    "vision": {"vision"},
}


@pytest.fixture
def units(org):
    """Acme's org units by name, its node pools included: east has `default` and `a100`."""
    return {
        **org,
        "east/default": NodePool.objects.get(cluster=org["east"], name="default"),
        "east/a100": NodePoolFactory(cluster=org["east"], name="a100"),
        "west/default": NodePool.objects.get(cluster=org["west"], name="default"),
    }


@pytest.fixture
def other_units(other_org):
    """Globex's org units, named like Acme's."""
    return {
        **other_org,
        "east/default": NodePool.objects.get(cluster=other_org["east"], name="default"),
    }


def scope_of(key, tenant, units):
    return tenant if key == "tenant" else units[key]


def readable(subject) -> dict:
    """What the subject may read, per org-unit model, through `readable_by`."""
    return {model: set(model.objects.readable_by(subject)) for model in MODELS}


def nothing() -> dict:
    return {model: set() for model in MODELS}


def pick(units, *names) -> dict:
    """The named units, grouped per model like `readable`."""
    chosen = [units[name] for name in names]
    return {model: {unit for unit in chosen if isinstance(unit, model)} for model in MODELS}


def resource_of(unit) -> str:
    """The resource type a unit is (a tenant is `tenant`)."""
    return RESOURCE_OF.get(type(unit), "tenant")


# --- How far a rule reaches -----------------------------------------------------------------------


def test_a_tenant_rule_covers_every_unit_of_the_tenant(alice, tenant, units):
    grant(alice, "Viewer", tenant)

    assert readable(alice) == {
        Cluster: {units["east"], units["west"]},
        NodePool: {units["east/default"], units["east/a100"], units["west/default"]},
        Department: {units["research"], units["ops"], units["training"]},
        Project: {units["vision"], units["nlp"], units["infra"], units["llm"]},
    }


def test_a_cluster_rule_covers_its_node_pools_departments_and_projects_only(alice, units):
    grant(alice, "Viewer", units["east"])

    assert readable(alice) == {
        Cluster: {units["east"]},
        NodePool: {units["east/default"], units["east/a100"]},
        Department: {units["research"], units["ops"]},
        Project: {units["vision"], units["nlp"], units["infra"]},
    }


def test_a_department_rule_covers_its_projects_not_a_siblings_nor_its_cluster(alice, units):
    grant(alice, "Viewer", units["research"])

    assert readable(alice) == {
        Cluster: set(),
        NodePool: set(),
        Department: {units["research"]},
        Project: {units["vision"], units["nlp"]},
    }


def test_a_project_rule_covers_that_project_only(alice, units):
    grant(alice, "Viewer", units["vision"])

    assert readable(alice) == {
        Cluster: set(),
        NodePool: set(),
        Department: set(),
        Project: {units["vision"]},
    }


@pytest.mark.parametrize("unit_key", ALL_ACME_UNITS)
@pytest.mark.parametrize("scope_key", list(COVERAGE))
def test_has_permission_follows_the_scope_down_the_tree(alice, tenant, units, scope_key, unit_key):
    grant(alice, "Viewer", scope_of(scope_key, tenant, units))
    unit = units[unit_key]

    assert permissions.has_permission(alice, resource_of(unit), "read", unit) is (
        unit_key in COVERAGE[scope_key]
    )


def test_permitted_keeps_only_the_actions_the_role_allows_in_its_scope(alice, units):
    grant(alice, "Department administrator", units["east"])

    assert set(Project.objects.permitted(alice, "project", "delete")) == {
        units["vision"],
        units["nlp"],
        units["infra"],
    }
    assert set(Department.objects.permitted(alice, "department", "create")) == {
        units["research"],
        units["ops"],
    }
    assert set(Cluster.objects.permitted(alice, "cluster", "read")) == {units["east"]}
    assert set(Cluster.objects.permitted(alice, "cluster", "update")) == set()
    assert set(NodePool.objects.permitted(alice, "nodepools", "read")) == {
        units["east/default"],
        units["east/a100"],
    }
    assert set(NodePool.objects.permitted(alice, "nodepools", "delete")) == set()
    assert permissions.has_permission(alice, "project", "update", units["infra"])
    assert not permissions.has_permission(alice, "project", "update", units["llm"])
    assert not permissions.has_permission(alice, "cluster", "update", units["east"])


def test_an_unknown_action_is_a_programming_error(alice, units):
    grant(alice, "Viewer", units["east"])

    with pytest.raises(ValueError, match="Unknown action 'view'"):
        permissions.has_permission(alice, "project", "view", units["vision"])


# --- Other tenants ------------------------------------------------------------------------------


def test_a_system_administrator_covers_nothing_of_another_tenant(
    alice, tenant, other_tenant, units, other_units
):
    grant(alice, "System administrator", tenant)

    assert readable(alice) == pick(units, *ALL_ACME_UNITS)
    for unit in [other_tenant, *other_units.values()]:
        for resource in RESOURCES:
            for action in ACTIONS:
                assert not permissions.has_permission(alice, resource, action, unit), (
                    resource,
                    action,
                    unit,
                )


def test_another_tenants_administrator_covers_nothing_of_acme(
    charlie, tenant, other_tenant, units, other_units
):
    grant(charlie, "System administrator", other_tenant)

    assert readable(charlie) == pick(other_units, "east", "east/default", "research", "vision")
    for unit in [tenant, *units.values()]:
        assert not permissions.has_permission(charlie, resource_of(unit), "read", unit)


def test_a_rule_on_a_unit_does_not_cover_another_tenants_unit_of_the_same_name(
    alice, units, other_units
):
    grant(alice, "Viewer", units["east"])

    assert set(Cluster.objects.readable_by(alice)) == {units["east"]}
    assert set(Project.objects.readable_by(alice)) == {
        units["vision"],
        units["nlp"],
        units["infra"],
    }
    for unit in other_units.values():
        assert not permissions.has_permission(alice, resource_of(unit), "read", unit), unit


@pytest.mark.parametrize(
    "scope_type, other_key",
    [
        (ScopeType.CLUSTER, "east"),
        (ScopeType.DEPARTMENT, "research"),
        (ScopeType.PROJECT, "vision"),
    ],
)
def test_a_rule_row_pointing_at_another_tenants_unit_covers_nothing(
    alice, tenant, units, other_units, scope_type, other_key
):
    # Bad data that AccessRule.clean would refuse: Acme's rule on Globex's unit.
    AccessRule.objects.create(
        tenant=tenant,
        user=alice,
        role=Role.objects.get(name="System administrator"),
        scope_type=scope_type,
        **{scope_type: other_units[other_key]},
    )

    assert readable(alice) == nothing()
    for unit in other_units.values():
        assert not permissions.has_permission(alice, resource_of(unit), "read", unit), unit
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")


def test_a_rule_row_of_another_tenant_naming_the_subject_covers_nothing(
    alice, tenant, other_tenant, units, other_units
):
    # Bad data: a Globex rule for Acme's alice, at Globex's tenant scope.
    AccessRule.objects.create(
        tenant=other_tenant,
        user=alice,
        role=Role.objects.get(name="System administrator"),
        scope_type=ScopeType.TENANT,
    )

    assert readable(alice) == nothing()
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")
    assert not permissions.has_permission(alice, "project", "read", tenant)
    assert not permissions.has_permission(alice, "project", "read", other_tenant)
    assert not permissions.has_permission(alice, "project", "read", other_units["vision"])
    assert list(permissions.rules_granting(alice, "project", "read")) == []


# --- What each predefined role grants -------------------------------------------------------------


def test_the_predefined_roles_are_exactly_those_of_the_spec(db):
    seeded = {
        role.name: {
            permission.resource: set(permission.actions)
            for permission in role.permissions.all()
            if permission.actions
        }
        for role in Role.objects.prefetch_related("permissions")
    }

    assert seeded == ROLE_TABLE


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("role_name", list(ROLE_TABLE))
def test_a_predefined_role_grants_what_the_spec_says(
    alice, tenant, units, role_name, resource, action
):
    grant(alice, role_name, tenant)
    expected = action in ROLE_TABLE[role_name].get(resource, set())

    assert permissions.has_permission(alice, resource, action, tenant) is expected
    assert permissions.holds_at_tenant_scope(alice, resource, action) is expected
    assert Role.objects.get(name=role_name).grants(resource, action) is expected
    models = [model for model, name in RESOURCE_OF.items() if name == resource]
    for model in models:
        everything = set(model.objects.for_tenant(tenant))
        assert set(model.objects.permitted(alice, resource, action)) == (
            everything if expected else set()
        )


# --- Tenant scope -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope_key", ["east", "research", "vision"])
def test_a_rule_below_the_tenant_does_not_hold_at_tenant_scope(alice, tenant, units, scope_key):
    grant(alice, "Viewer", units[scope_key])

    assert permissions.has_permission(alice, "project", "read", units["vision"])
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")
    assert not permissions.has_permission(alice, "project", "read", tenant)


def test_a_tenant_rule_holds_at_tenant_scope_for_its_roles_permissions_only(alice, tenant):
    grant(alice, "L1 researcher", tenant)

    assert permissions.holds_at_tenant_scope(alice, "project", "read")
    assert not permissions.holds_at_tenant_scope(alice, "project", "delete")
    assert not permissions.holds_at_tenant_scope(alice, "department", "read")


def test_has_permission_with_a_tenant_scope(alice, bob, tenant, other_tenant, units):
    grant(alice, "Viewer", units["east"])
    grant(bob, "Viewer", tenant)

    assert not permissions.has_permission(alice, "project", "read", tenant)
    assert permissions.has_permission(bob, "project", "read", tenant)
    assert not permissions.has_permission(bob, "project", "update", tenant)
    assert not permissions.has_permission(bob, "project", "read", other_tenant)


# --- Subjects that hold nothing -----------------------------------------------------------------


def inactive_user(tenant):
    user = UserFactory(tenant=tenant, is_active=False)
    grant(user, "System administrator", tenant)
    return user


def inactive_service_account(tenant):
    robot = ServiceAccountFactory(tenant=tenant, is_active=False)
    grant(robot, "System administrator", tenant)
    return robot


def operator(tenant):
    staff = UserFactory(tenant=None, is_staff=True, is_superuser=True)
    # Bad data: an operator has no tenant, so no rule should name them; even this one gives nothing.
    AccessRule.objects.create(
        tenant=tenant,
        user=staff,
        role=Role.objects.get(name="System administrator"),
        scope_type=ScopeType.TENANT,
    )
    return staff


def anonymous(tenant):
    return AnonymousUser()


def no_subject(tenant):
    return None


@pytest.mark.parametrize(
    "make_subject",
    [inactive_user, inactive_service_account, operator, anonymous, no_subject],
)
def test_these_subjects_hold_nothing(tenant, units, make_subject):
    subject = make_subject(tenant)

    assert readable(subject) == nothing()
    assert set(permissions.readable_projects(subject)) == set()
    for resource in RESOURCES:
        for action in ACTIONS:
            assert not permissions.holds_at_tenant_scope(subject, resource, action)
            assert not permissions.has_permission(subject, resource, action, tenant)
            assert list(permissions.rules_granting(subject, resource, action)) == []
    for unit in units.values():
        assert not permissions.has_permission(subject, resource_of(unit), "read", unit), unit


def test_the_same_user_holds_the_rules_again_once_active(alice, tenant, units):
    rule = grant(alice, "L1 researcher", units["vision"])
    alice.is_active = False
    alice.save()
    assert set(permissions.readable_projects(alice)) == set()

    alice.is_active = True
    alice.save()

    assert set(permissions.readable_projects(alice)) == {units["vision"]}
    assert set(permissions.rules_granting(alice, "project", "read")) == {rule}


# --- Service accounts ---------------------------------------------------------------------------


def test_a_service_account_is_a_subject_like_a_user(tenant, units):
    robot = ServiceAccountFactory(tenant=tenant)
    rule = grant(robot, "Research manager", units["research"])

    assert readable(robot) == pick(units, "research", "vision", "nlp")
    assert permissions.has_permission(robot, "project", "read", units["nlp"])
    assert not permissions.has_permission(robot, "project", "read", units["infra"])
    assert not permissions.has_permission(robot, "project", "update", units["nlp"])
    assert not permissions.holds_at_tenant_scope(robot, "project", "read")
    assert set(permissions.rules_granting(robot, "department", "read")) == {rule}

    grant(robot, "Viewer", tenant)

    assert permissions.holds_at_tenant_scope(robot, "project", "read")
    assert readable(robot) == pick(units, *ALL_ACME_UNITS)


def test_a_service_account_and_a_user_with_the_same_id_do_not_share_rules(alice, tenant, units):
    robot = ServiceAccountFactory(tenant=tenant, id=alice.pk)
    grant(robot, "Viewer", tenant)
    grant(alice, "L1 researcher", units["vision"])

    assert set(permissions.readable_projects(alice)) == {units["vision"]}
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")
    assert set(permissions.readable_projects(robot)) == {
        units["vision"],
        units["nlp"],
        units["infra"],
        units["llm"],
    }
    assert permissions.holds_at_tenant_scope(robot, "project", "read")


# --- Several rules ------------------------------------------------------------------------------


def test_permissions_combine_over_several_rules(alice, units):
    researcher = grant(alice, "L1 researcher", units["infra"])
    manager = grant(alice, "Research manager", units["research"])

    assert set(permissions.readable_projects(alice)) == {
        units["infra"],
        units["vision"],
        units["nlp"],
    }
    assert set(Department.objects.readable_by(alice)) == {units["research"]}
    assert permissions.has_permission(alice, "department", "read", units["research"])
    assert not permissions.has_permission(alice, "department", "read", units["ops"])
    assert not permissions.has_permission(alice, "project", "read", units["llm"])
    assert set(permissions.rules_granting(alice, "project", "read")) == {researcher, manager}
    assert set(permissions.rules_granting(alice, "department", "read")) == {manager}

    grant(alice, "Department administrator", units["training"])

    assert set(Project.objects.permitted(alice, "project", "delete")) == {units["llm"]}
    assert set(permissions.readable_projects(alice)) == {
        units["infra"],
        units["vision"],
        units["nlp"],
        units["llm"],
    }


def no_rules(alice, tenant, units):
    return set()


def one_project_rule(alice, tenant, units):
    grant(alice, "L1 researcher", units["vision"])
    return {units["vision"]}


def rules_at_every_scope_below_the_tenant(alice, tenant, units):
    grant(alice, "L1 researcher", units["vision"])
    grant(alice, "ML engineer", units["nlp"])
    grant(alice, "Editor", units["infra"])
    grant(alice, "Research manager", units["research"])
    grant(alice, "Department administrator", units["research"])
    grant(alice, "Viewer", units["ops"])
    grant(alice, "Department administrator", units["east"])
    return {units["vision"], units["nlp"], units["infra"]}


def rules_at_every_scope(alice, tenant, units):
    rules_at_every_scope_below_the_tenant(alice, tenant, units)
    grant(alice, "L1 researcher", tenant)
    return {units["vision"], units["nlp"], units["infra"], units["llm"]}


@pytest.mark.parametrize(
    "give_rules",
    [no_rules, one_project_rule, rules_at_every_scope_below_the_tenant, rules_at_every_scope],
)
def test_readable_projects_runs_as_one_query_however_many_rules(
    alice, tenant, units, django_assert_num_queries, give_rules
):
    expected = give_rules(alice, tenant, units)

    with django_assert_num_queries(1):
        projects = set(permissions.readable_projects(alice))

    assert projects == expected
