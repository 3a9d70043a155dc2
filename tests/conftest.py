import pytest
from django_q.conf import Conf

from reports_site.settings import report_files_storage
from tests.consumption.samples import sample, save_samples
from tests.factories import (
    ClusterFactory,
    DepartmentFactory,
    ProjectFactory,
    TenantFactory,
    UserFactory,
    grant,
)
from tests.servers import S3Server, redis_database


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Report files go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


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


@pytest.fixture
def usage(org):
    """One hour of GPUs in each of acme's projects in March 2026."""
    save_samples(
        sample(org["vision"], "2026-03-10T10:00Z", 3600, gpu=1, cpu=2, memory=3600),
        sample(org["nlp"], "2026-03-10T10:00Z", 3600, gpu=2, nodepool="a100"),
        sample(org["infra"], "2026-03-10T10:00Z", 3600, gpu=4),
        sample(org["llm"], "2026-03-10T10:00Z", 3600, gpu=8),
    )
    return org


@pytest.fixture
def viewer(alice, tenant):
    """alice: Viewer at tenant scope (project:read throughout the tenant)."""
    grant(alice, "Viewer", tenant)
    return alice


@pytest.fixture
def researcher(bob, org):
    """bob: L1 researcher of vision only."""
    grant(bob, "L1 researcher", org["vision"])
    return bob


@pytest.fixture
def no_queue(monkeypatch) -> list:
    """Queued builds are recorded, not run: tests build by calling the task. (The queue itself
    is tested with a real worker in test_worker.py.)"""
    queued = []
    monkeypatch.setattr("reports.services.enqueue_build", queued.append)
    return queued


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """moto's S3-compatible server, for the session."""
    with S3Server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server, settings, monkeypatch) -> str:
    """Report files go to a new bucket of the S3-compatible server, under the prefix "site", as
    the S3_* environment variables configure it (worker processes started by the test inherit
    them)."""
    bucket = s3_server.new_bucket()
    for name, value in s3_server.environment(bucket, prefix="site").items():
        monkeypatch.setenv(name, value)
    settings.STORAGES = {**settings.STORAGES, "default": report_files_storage()}
    return bucket


@pytest.fixture(params=["local files", "S3"])
def report_storage(request) -> str:
    """Runs the test once on local files and once on the S3-compatible server."""
    if request.param == "S3":
        request.getfixturevalue("s3_bucket")
    return request.param


@pytest.fixture
def redis_broker(monkeypatch) -> str:
    """django-q2's Redis broker, on a database of the machine's Redis emptied for the test: in
    this process, and (through REDIS_URL) in the worker processes that the test starts."""
    url = redis_database()
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    return url


@pytest.fixture(params=["ORM", "Redis"])
def broker(request) -> str:
    """Runs the test once with the ORM broker and once with Redis."""
    if request.param == "Redis":
        request.getfixturevalue("redis_broker")
    return request.param
