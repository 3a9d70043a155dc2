"""The API's cast: robot, a service account of acme (Viewer throughout the tenant), and
intruder, one of globex; clients that carry their tokens."""

import pytest
from django.contrib.auth.hashers import make_password
from rest_framework.test import APIClient

from reports.api import tokens
from tests.factories import ServiceAccountFactory, grant

SECRET = "robot-secret"


def service_account(tenant, name: str, role: str | None = "Viewer"):
    account = ServiceAccountFactory(tenant=tenant, name=name, secret_hash=make_password(SECRET))
    if role:
        grant(account, role, tenant)
    return account


@pytest.fixture
def robot(tenant, org):
    return service_account(tenant, "robot")


@pytest.fixture
def intruder(other_tenant, other_org):
    return service_account(other_tenant, "intruder", role="System administrator")


def bearer(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.issue(account)[0]}")
    return client


@pytest.fixture
def api(robot) -> APIClient:
    """robot's client, with a fresh token."""
    return bearer(robot)
