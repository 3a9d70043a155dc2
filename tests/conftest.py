import pytest

from tests.factories import (
    ClusterFactory,
    DepartmentFactory,
    ProjectFactory,
    TenantFactory,
    UserFactory,
)


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def org(tenant):
    """Acme's org tree: two clusters; east has research (vision, nlp) and ops (infra)."""
    east = ClusterFactory(tenant=tenant, name="east")
    west = ClusterFactory(tenant=tenant, name="west")
    research = DepartmentFactory(cluster=east, name="research")
    ops = DepartmentFactory(cluster=east, name="ops")
    training = DepartmentFactory(cluster=west, name="training")
    return {
        "east": east,
        "west": west,
        "research": research,
        "ops": ops,
        "training": training,
        "vision": ProjectFactory(department=research, name="vision"),
        "nlp": ProjectFactory(department=research, name="nlp"),
        "infra": ProjectFactory(department=ops, name="infra"),
        "llm": ProjectFactory(department=training, name="llm"),
    }


@pytest.fixture
def other_org(other_tenant):
    """Globex's org tree, with names that also exist at Acme."""
    east = ClusterFactory(tenant=other_tenant, name="east")
    research = DepartmentFactory(cluster=east, name="research")
    return {
        "east": east,
        "research": research,
        "vision": ProjectFactory(department=research, name="vision"),
    }


@pytest.fixture
def alice(tenant):
    """Acme's analyst; tests give her the rules they need."""
    return UserFactory(email="alice@acme.example", tenant=tenant)


@pytest.fixture
def bob(tenant):
    return UserFactory(email="bob@acme.example", tenant=tenant)


@pytest.fixture
def charlie(other_tenant):
    """A user of another tenant."""
    return UserFactory(email="charlie@globex.example", tenant=other_tenant)


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    return f"database: {database['ENGINE']} {database['NAME']}"
