from datetime import datetime

import pytest

from tests.consumption.samples import sample, save_samples
from tests.factories import grant

MARCH = (datetime.fromisoformat("2026-03-01T00:00Z"), datetime.fromisoformat("2026-04-01T00:00Z"))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def no_queue(monkeypatch) -> list:
    """Queued builds are recorded, not run: tests build by calling the task. (The queue itself
    is tested with a real worker in test_worker.py.)"""
    queued = []
    monkeypatch.setattr("reports.services.enqueue_build", queued.append)
    return queued


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
