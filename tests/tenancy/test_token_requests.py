"""The model helpers behind POST /api/v1/token: which service account a client ID and secret
prove, and the counts of failed requests that make a client ID or an address wait."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher, make_password

from reports_site.tenancy.models import ServiceAccount, TokenFailure
from tests.factories import ServiceAccountFactory

SECRET = "robot-secret"
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def robot(tenant):
    return ServiceAccountFactory(tenant=tenant, name="robot", secret_hash=make_password(SECRET))


class TestAuthenticate:
    def test_it_returns_the_account_of_that_client_id_and_secret(self, robot, tenant):
        ServiceAccountFactory(tenant=tenant, name="other", secret_hash=make_password(SECRET))
        assert ServiceAccount.objects.authenticate(robot.client_id, SECRET) == robot

    def test_it_refuses_a_wrong_secret(self, robot):
        assert ServiceAccount.objects.authenticate(robot.client_id, SECRET + "x") is None

    def test_it_refuses_another_accounts_secret(self, robot, tenant):
        other = ServiceAccountFactory(tenant=tenant, name="other")
        other_secret = other.set_new_secret()
        other.save()
        assert ServiceAccount.objects.authenticate(robot.client_id, other_secret) is None

    def test_it_refuses_an_inactive_account_even_with_its_secret(self, robot):
        robot.is_active = False
        robot.save()
        assert ServiceAccount.objects.authenticate(robot.client_id, SECRET) is None

    def test_an_unknown_client_id_costs_a_hashing_as_a_wrong_secret_does(self, robot, monkeypatch):
        hashed = []
        encode = MD5PasswordHasher.encode
        monkeypatch.setattr(
            MD5PasswordHasher, "encode", lambda *args: hashed.append(args[1]) or encode(*args)
        )
        assert ServiceAccount.objects.authenticate("nobody", "guess") is None
        assert ServiceAccount.objects.authenticate(robot.client_id, "guess") is None
        assert hashed == ["guess", "guess"]


def counts() -> dict[tuple[str, str], int]:
    return {(f.kind, f.key): f.failures for f in TokenFailure.objects.all()}


@pytest.mark.time_machine(NOON, tick=False)
class TestFailureCounts:
    @pytest.fixture(autouse=True)
    def limits(self, settings):
        settings.API_TOKEN_MAX_FAILURES = 2
        settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 3
        settings.API_TOKEN_FAILURE_WINDOW_SECONDS = 300

    def test_a_failure_counts_against_the_client_id_and_the_address(self):
        TokenFailure.objects.record_failure("robot", "10.0.0.1")
        TokenFailure.objects.record_failure("robot", "10.0.0.2")
        assert counts() == {
            ("client_id", "robot"): 2,
            ("address", "10.0.0.1"): 1,
            ("address", "10.0.0.2"): 1,
        }

    def test_a_client_id_waits_the_rest_of_its_window_once_it_had_its_tries(self, time_machine):
        TokenFailure.objects.record_failure("robot", "10.0.0.1")
        assert TokenFailure.objects.client_id_wait("robot") == 0
        time_machine.shift(timedelta(seconds=100))
        TokenFailure.objects.record_failure("robot", "10.0.0.2")
        assert TokenFailure.objects.client_id_wait("robot") == 200
        assert TokenFailure.objects.client_id_wait("other") == 0

    def test_the_address_waits_once_it_had_its_tries_before_this_failure(self, time_machine):
        waits = []
        for n in range(4):
            waits.append(TokenFailure.objects.record_failure(f"guess-{n}", "10.0.0.1"))
            time_machine.shift(timedelta(seconds=10))
        assert waits == [0, 0, 0, 270]
        assert counts()[("address", "10.0.0.1")] == 4
