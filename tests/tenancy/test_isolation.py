"""Nothing crosses tenants: the scoped querysets of every org-unit model keep a subject, user or
service account, inside its own tenant, even where Acme and Globex use the same names."""

import pytest

from reports_site.tenancy.models import Cluster, Department, NodePool, Project
from tests.factories import ServiceAccountFactory, grant

MODELS = [Cluster, NodePool, Department, Project]

# Every unit of each tenant, per model, by the names of the `units` fixture.
ACME_UNITS = {
    Cluster: {"acme:east", "acme:west"},
    NodePool: {"acme:east/default", "acme:west/default"},
    Department: {"acme:research", "acme:ops", "acme:training"},
    Project: {"acme:vision", "acme:nlp", "acme:infra", "acme:llm"},
}
GLOBEX_UNITS = {
    Cluster: {"globex:east"},
    NodePool: {"globex:east/default"},
    Department: {"globex:research"},
    Project: {"globex:vision"},
}
NO_UNITS = {model: set() for model in MODELS}


@pytest.fixture
def units(org, other_org):
    """Both tenants' org units, named `acme:<name>` and `globex:<name>`."""
    trees = {"acme": org, "globex": other_org}
    named = {f"{slug}:{name}": unit for slug, tree in trees.items() for name, unit in tree.items()}
    for slug, tree in trees.items():
        for cluster in [unit for unit in tree.values() if isinstance(unit, Cluster)]:
            named[f"{slug}:{cluster.name}/default"] = cluster.nodepools.get(name="default")
    return named


@pytest.fixture
def subjects(alice, bob, charlie, tenant, other_tenant):
    """A user and a service account of each tenant, each Viewer or System administrator of its
    whole tenant, and bob, who has no rule."""
    acme_robot = ServiceAccountFactory(tenant=tenant, name="robot")
    globex_robot = ServiceAccountFactory(tenant=other_tenant, name="robot")
    grant(alice, "System administrator", tenant)
    grant(acme_robot, "Viewer", tenant)
    grant(charlie, "System administrator", other_tenant)
    grant(globex_robot, "Viewer", other_tenant)
    return {
        "alice": alice,
        "bob": bob,
        "acme-robot": acme_robot,
        "charlie": charlie,
        "globex-robot": globex_robot,
    }


def pick(units, names) -> set:
    return {units[name] for name in names}


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_for_tenant_keeps_the_tenants_own_units(tenant, other_tenant, units, model):
    assert set(model.objects.for_tenant(tenant)) == pick(units, ACME_UNITS[model])
    assert set(model.objects.for_tenant(other_tenant)) == pick(units, GLOBEX_UNITS[model])


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
@pytest.mark.parametrize(
    "subject_key, expected",
    [
        ("alice", ACME_UNITS),
        ("acme-robot", ACME_UNITS),
        ("bob", NO_UNITS),
        ("charlie", GLOBEX_UNITS),
        ("globex-robot", GLOBEX_UNITS),
    ],
)
def test_permitted_keeps_a_subject_in_its_tenant(units, subjects, subject_key, expected, model):
    subject = subjects[subject_key]

    assert set(model.objects.permitted(subject, "read")) == pick(units, expected[model])


def test_an_administrators_write_permissions_stay_in_their_tenant(units, subjects):
    assert set(Project.objects.permitted(subjects["alice"], "delete")) == pick(
        units, ACME_UNITS[Project]
    )
    assert set(Cluster.objects.permitted(subjects["charlie"], "update")) == pick(
        units, GLOBEX_UNITS[Cluster]
    )
    assert set(Project.objects.permitted(subjects["acme-robot"], "delete")) == set()


def test_permitted_narrows_another_tenants_queryset_to_nothing(tenant, other_tenant, subjects):
    charlie = subjects["charlie"]
    alice = subjects["alice"]

    assert set(Project.objects.for_tenant(tenant).permitted(charlie, "read")) == set()
    assert set(Department.objects.for_tenant(other_tenant).permitted(alice, "read")) == set()


def test_permitted_picks_the_subjects_unit_among_units_of_the_same_name(units, subjects):
    assert set(Project.objects.filter(name="vision").permitted(subjects["charlie"], "read")) == {
        units["globex:vision"]
    }
    assert set(Cluster.objects.filter(name="east").permitted(subjects["acme-robot"], "read")) == {
        units["acme:east"]
    }


def test_rules_below_the_tenant_stay_in_their_tenant(tenant, other_tenant, alice, charlie, units):
    acme_robot = ServiceAccountFactory(tenant=tenant, name="robot")
    globex_robot = ServiceAccountFactory(tenant=other_tenant, name="robot")
    grant(alice, "L1 researcher", units["acme:vision"])
    grant(charlie, "Research manager", units["globex:research"])
    grant(acme_robot, "Viewer", units["acme:east"])
    grant(globex_robot, "Editor", units["globex:east"])

    def readable(subject):
        return {model: set(model.objects.permitted(subject, "read")) for model in MODELS}

    assert readable(alice) == {
        Cluster: set(),
        NodePool: set(),
        Department: set(),
        Project: {units["acme:vision"]},
    }
    assert readable(charlie) == {
        Cluster: set(),
        NodePool: set(),
        Department: {units["globex:research"]},
        Project: {units["globex:vision"]},
    }
    assert readable(acme_robot) == {
        Cluster: {units["acme:east"]},
        NodePool: {units["acme:east/default"]},
        Department: {units["acme:research"], units["acme:ops"]},
        Project: {units["acme:vision"], units["acme:nlp"], units["acme:infra"]},
    }
    assert readable(globex_robot) == {
        Cluster: {units["globex:east"]},
        NodePool: {units["globex:east/default"]},
        Department: {units["globex:research"]},
        Project: {units["globex:vision"]},
    }
