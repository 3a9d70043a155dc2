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
    """What the subject may read, per org-unit model, through `permitted(subject, "read")`."""
    return {model: set(model.objects.permitted(subject, "read")) for model in MODELS}


def nothing() -> dict:
    return {model: set() for model in MODELS}


def pick(units, *names) -> dict:
    """The named units, grouped per model like `readable`."""
    chosen = [units[name] for name in names]
    return {model: {unit for unit in chosen if isinstance(unit, model)} for model in MODELS}


def covers(subject, action, unit) -> bool:
    """May the subject do `action` on this org unit: is it among its kind's `permitted` units?"""
    return type(unit).objects.permitted(subject, action).filter(pk=unit.pk).exists()


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
def test_a_rule_covers_a_unit_down_the_tree_only(alice, tenant, units, scope_key, unit_key):
    grant(alice, "Viewer", scope_of(scope_key, tenant, units))
    unit = units[unit_key]

    assert covers(alice, "read", unit) is (unit_key in COVERAGE[scope_key])


def test_permitted_keeps_only_the_actions_the_role_allows_in_its_scope(alice, units):
    grant(alice, "Department administrator", units["east"])

    assert set(Project.objects.permitted(alice, "delete")) == {
        units["vision"],
        units["nlp"],
        units["infra"],
    }
    assert set(Department.objects.permitted(alice, "create")) == {
        units["research"],
        units["ops"],
    }
    assert set(Cluster.objects.permitted(alice, "read")) == {units["east"]}
    assert set(Cluster.objects.permitted(alice, "update")) == set()
    assert set(NodePool.objects.permitted(alice, "read")) == {
        units["east/default"],
        units["east/a100"],
    }
    assert set(NodePool.objects.permitted(alice, "delete")) == set()
    assert covers(alice, "update", units["infra"])
    assert not covers(alice, "update", units["llm"])
    assert not covers(alice, "update", units["east"])


def test_an_unknown_action_is_a_programming_error(alice, units):
    grant(alice, "Viewer", units["east"])

    with pytest.raises(ValueError, match="Unknown action 'view'"):
        covers(alice, "view", units["vision"])


# --- Other tenants ------------------------------------------------------------------------------


def test_a_system_administrator_covers_nothing_of_another_tenant(
    alice, tenant, other_tenant, units, other_units
):
    grant(alice, "System administrator", tenant)

    assert readable(alice) == pick(units, *ALL_ACME_UNITS)
    for unit in other_units.values():
        for action in ACTIONS:
            assert not covers(alice, action, unit), (action, unit)


def test_another_tenants_administrator_covers_nothing_of_acme(
    charlie, tenant, other_tenant, units, other_units
):
    grant(charlie, "System administrator", other_tenant)

    assert readable(charlie) == pick(other_units, "east", "east/default", "research", "vision")
    for unit in units.values():
        assert not covers(charlie, "read", unit)


def test_a_rule_on_a_unit_does_not_cover_another_tenants_unit_of_the_same_name(
    alice, units, other_units
):
    grant(alice, "Viewer", units["east"])

    assert set(Cluster.objects.permitted(alice, "read")) == {units["east"]}
    assert set(Project.objects.permitted(alice, "read")) == {
        units["vision"],
        units["nlp"],
        units["infra"],
    }
    for unit in other_units.values():
        assert not covers(alice, "read", unit), unit


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
        assert not covers(alice, "read", unit), unit
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
    assert not covers(alice, "read", other_units["vision"])
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

    assert permissions.holds_at_tenant_scope(alice, resource, action) is expected
    models = [model for model, name in RESOURCE_OF.items() if name == resource]
    for model in models:
        everything = set(model.objects.for_tenant(tenant))
        assert set(model.objects.permitted(alice, action)) == (everything if expected else set())


# --- Tenant scope -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope_key", ["east", "research", "vision"])
def test_a_rule_below_the_tenant_does_not_hold_at_tenant_scope(alice, tenant, units, scope_key):
    grant(alice, "Viewer", units[scope_key])

    assert covers(alice, "read", units["vision"])
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")


def test_a_tenant_rule_holds_at_tenant_scope_for_its_roles_permissions_only(alice, tenant):
    grant(alice, "L1 researcher", tenant)

    assert permissions.holds_at_tenant_scope(alice, "project", "read")
    assert not permissions.holds_at_tenant_scope(alice, "project", "delete")
    assert not permissions.holds_at_tenant_scope(alice, "department", "read")


def test_only_a_tenant_rule_holds_at_tenant_scope(alice, bob, tenant, units, other_units):
    grant(alice, "Viewer", units["east"])
    grant(bob, "Viewer", tenant)

    assert not permissions.holds_at_tenant_scope(alice, "project", "read")
    assert permissions.holds_at_tenant_scope(bob, "project", "read")
    assert not permissions.holds_at_tenant_scope(bob, "project", "update")
    assert not covers(bob, "read", other_units["vision"])


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
    assert set(Project.objects.permitted(subject, "read")) == set()
    for resource in RESOURCES:
        for action in ACTIONS:
            assert not permissions.holds_at_tenant_scope(subject, resource, action)
            assert list(permissions.rules_granting(subject, resource, action)) == []
    for unit in units.values():
        assert not covers(subject, "read", unit), unit


def test_the_same_user_holds_the_rules_again_once_active(alice, tenant, units):
    rule = grant(alice, "L1 researcher", units["vision"])
    alice.is_active = False
    alice.save()
    assert set(Project.objects.permitted(alice, "read")) == set()

    alice.is_active = True
    alice.save()

    assert set(Project.objects.permitted(alice, "read")) == {units["vision"]}
    assert set(permissions.rules_granting(alice, "project", "read")) == {rule}


# --- Service accounts ---------------------------------------------------------------------------


def test_a_service_account_is_a_subject_like_a_user(tenant, units):
    robot = ServiceAccountFactory(tenant=tenant)
    rule = grant(robot, "Research manager", units["research"])

    assert readable(robot) == pick(units, "research", "vision", "nlp")
    assert covers(robot, "read", units["nlp"])
    assert not covers(robot, "read", units["infra"])
    assert not covers(robot, "update", units["nlp"])
    assert not permissions.holds_at_tenant_scope(robot, "project", "read")
    assert set(permissions.rules_granting(robot, "department", "read")) == {rule}

    grant(robot, "Viewer", tenant)

    assert permissions.holds_at_tenant_scope(robot, "project", "read")
    assert readable(robot) == pick(units, *ALL_ACME_UNITS)


def test_a_service_account_and_a_user_with_the_same_id_do_not_share_rules(alice, tenant, units):
    robot = ServiceAccountFactory(tenant=tenant, id=alice.pk)
    grant(robot, "Viewer", tenant)
    grant(alice, "L1 researcher", units["vision"])

    assert set(Project.objects.permitted(alice, "read")) == {units["vision"]}
    assert not permissions.holds_at_tenant_scope(alice, "project", "read")
    assert set(Project.objects.permitted(robot, "read")) == {
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

    assert set(Project.objects.permitted(alice, "read")) == {
        units["infra"],
        units["vision"],
        units["nlp"],
    }
    assert set(Department.objects.permitted(alice, "read")) == {units["research"]}
    assert covers(alice, "read", units["research"])
    assert not covers(alice, "read", units["ops"])
    assert not covers(alice, "read", units["llm"])
    assert set(permissions.rules_granting(alice, "project", "read")) == {researcher, manager}
    assert set(permissions.rules_granting(alice, "department", "read")) == {manager}

    grant(alice, "Department administrator", units["training"])

    assert set(Project.objects.permitted(alice, "delete")) == {units["llm"]}
    assert set(Project.objects.permitted(alice, "read")) == {
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
def test_permitted_projects_run_as_one_query_however_many_rules(
    alice, tenant, units, django_assert_num_queries, give_rules
):
    expected = give_rules(alice, tenant, units)

    with django_assert_num_queries(1):
        projects = set(Project.objects.permitted(alice, "read"))

    assert projects == expected
