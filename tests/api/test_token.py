"""POST /api/v1/token: service accounts trade their client ID and secret for a signed JWT."""

import base64
import json
import random
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from reports.api import tokens
from reports_site.client_address import client_address
from reports_site.tenancy.models import TokenFailure
from tests.api.conftest import SECRET, bearer, service_account
from tests.worker import start_worker, stop

URL = "/api/v1/token"
REPORTS = "/api/v1/org-unit/reports"
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def ask(body) -> tuple[int, dict]:
    response = APIClient().post(URL, body, format="json")
    return response.status_code, response.json()


def sdk_expiry(token: str) -> int:
    """What runapy does with a token: its payload, decoded with the standard base64 alphabet."""
    payload = token.split(".")[1]
    return json.loads(base64.b64decode(payload + "=="))["exp"]


class TestToken:
    def test_client_credentials(self, robot):
        status, body = ask(
            {"grantType": "client_credentials", "clientID": robot.client_id, "clientSecret": SECRET}
        )
        assert status == 200
        assert body["expiresIn"] == 3600
        claims = jwt.decode(body["accessToken"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 3600
        assert abs(claims["exp"] - (time.time() + 3600)) < 10
        assert claims["sub"] == f"sa:{robot.pk}"

    def test_the_deprecated_app_token_grant_as_the_sdk_sends_it(self, robot):
        status, body = ask(
            {"grantType": "app_token", "AppId": robot.client_id, "AppSecret": SECRET}
        )
        assert status == 200
        response = APIClient().get(REPORTS, HTTP_AUTHORIZATION=f"Bearer {body['accessToken']}")
        assert response.status_code == 200

    def test_and_as_the_api_documents_it(self, robot):
        status, _ = ask({"grantType": "app_token", "appID": robot.client_id, "appSecret": SECRET})
        assert status == 200

    def test_the_lifetime_is_configurable(self, robot, settings):
        settings.API_TOKEN_LIFETIME_SECONDS = 120
        _, body = ask(
            {"grantType": "client_credentials", "clientID": robot.client_id, "clientSecret": SECRET}
        )
        assert body["expiresIn"] == 120
        assert sdk_expiry(body["accessToken"]) - time.time() == pytest.approx(120, abs=10)

    def test_the_sdk_can_read_the_expiry_of_every_token(self, robot):
        # runapy decodes with the standard alphabet; JWT's "-" and "_" would break it.
        for _ in range(300):
            token, _ = tokens.issue(robot)
            assert "-" not in token.split(".")[1] and "_" not in token.split(".")[1]
            assert (
                sdk_expiry(token) == jwt.decode(token, options={"verify_signature": False})["exp"]
            )

    def test_bad_credentials_do_not_say_which_part_was_wrong(self, robot):
        refused = (401, {"code": 401, "message": "Invalid client credentials."})
        grant = "client_credentials"
        unknown_id = {"grantType": grant, "clientID": "nobody", "clientSecret": SECRET}
        wrong_secret = {"grantType": grant, "clientID": robot.client_id, "clientSecret": "wrong"}
        assert ask(unknown_id) == ask(wrong_secret) == refused

    def test_an_inactive_account_gets_no_token_and_its_tokens_stop_working(self, robot):
        client = bearer(robot)
        robot.is_active = False
        robot.save()
        assert client.get(REPORTS).status_code == 401
        status, _ = ask(
            {"grantType": "client_credentials", "clientID": robot.client_id, "clientSecret": SECRET}
        )
        assert status == 401

    @pytest.mark.parametrize(
        "body, message",
        [
            ({"grantType": "password"}, "grantType: use client_credentials"),
            ({"clientID": "x", "clientSecret": "y"}, "grantType: use client_credentials"),
            ({"grantType": "client_credentials"}, "Give the client ID and secret"),
            ({"grantType": "client_credentials", "clientID": 5, "clientSecret": []}, "Give the"),
            (["grantType"], "The body is a JSON object."),
            (
                {"grantType": "client_credentials", "clientID": "a\x00", "clientSecret": "b"},
                "cannot hold null characters",
            ),
        ],
    )
    def test_malformed_requests_are_400(self, body, message):
        status, answer = ask(body)
        assert status == 400
        assert answer["code"] == 400 and message in answer["message"]

    def test_a_body_that_is_not_json_is_400(self):
        response = APIClient().post(URL, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == 400


def post(body: dict, **extra) -> HttpResponse:
    return APIClient().post(URL, body, format="json", **extra)


def credentials(client_id: str, secret: str = SECRET) -> dict:
    return {"grantType": "client_credentials", "clientID": client_id, "clientSecret": secret}


def failure_counts() -> dict[tuple[str, str], int]:
    return {(f.kind, f.key): f.failures for f in TokenFailure.objects.all()}


@pytest.mark.time_machine(NOON, tick=False)
class TestThrottle:
    """Failed token requests are counted in the database per client ID and per address."""

    @pytest.fixture(autouse=True)
    def limits(self, settings):
        settings.API_TOKEN_MAX_FAILURES = 3
        settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 5

    def test_a_guessed_client_id_waits_even_with_the_right_secret(self, robot):
        assert [post(credentials(robot.client_id, "x")).status_code for _ in range(3)] == [401] * 3
        response = post(credentials(robot.client_id))
        assert response.status_code == 429
        assert response["Retry-After"] == "300"
        assert response.json() == {
            "code": 429,
            "message": "Too many failed attempts; try again in 300 seconds.",
        }

    def test_it_locks_that_client_id_only(self, robot, tenant):
        other = service_account(tenant, "other-robot")
        for _ in range(3):
            post(credentials(robot.client_id, "x"))
        assert post(credentials(robot.client_id)).status_code == 429
        assert post(credentials(other.client_id)).status_code == 200
        assert post(credentials(other.client_id, "x")).status_code == 401
        assert failure_counts() == {
            ("client_id", robot.client_id): 3,
            ("client_id", other.client_id): 1,
            ("address", "127.0.0.1"): 4,
        }

    def test_an_unknown_client_id_is_locked_like_a_known_one(self):
        # Else the answer would tell which IDs exist.
        assert [post(credentials("nobody", "x")).status_code for _ in range(4)] == [
            401,
            401,
            401,
            429,
        ]

    def test_a_locked_address_is_refused_unknown_credentials_but_not_a_right_secret(
        self, robot, tenant
    ):
        other = service_account(tenant, "other-robot")
        proxy = {"REMOTE_ADDR": "10.0.0.1"}
        # Five different unknown client IDs: none of them locked, the address is.
        assert [post(credentials(f"guess-{n}", "x"), **proxy).status_code for n in range(5)] == (
            [401] * 5
        )
        refused = post(credentials("guess-5", "x"), **proxy)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "300"
        assert post(credentials(robot.client_id, "x"), **proxy).status_code == 429
        # The service accounts behind the same proxy still get their tokens...
        assert post(credentials(robot.client_id), **proxy).status_code == 200
        assert post(credentials(other.client_id), **proxy).status_code == 200
        # ...and another address is not concerned.
        assert post(credentials("guess-6", "x"), REMOTE_ADDR="10.0.0.2").status_code == 401
        # A wrong secret from the locked address still counts against the client ID.
        assert failure_counts()[("client_id", robot.client_id)] == 1

    def test_the_window_ends(self, robot, time_machine):
        for _ in range(3):
            post(credentials(robot.client_id, "x"))
        time_machine.shift(timedelta(seconds=299))
        response = post(credentials(robot.client_id))
        assert (response.status_code, response["Retry-After"]) == (429, "1")
        time_machine.shift(timedelta(seconds=1))
        assert post(credentials(robot.client_id)).status_code == 200
        # A new window: the next failure is the first.
        assert post(credentials(robot.client_id, "x")).status_code == 401
        assert failure_counts()[("client_id", robot.client_id)] == 1

    def test_the_window_starts_at_the_first_failure(self, robot, time_machine):
        post(credentials(robot.client_id, "x"))
        time_machine.shift(timedelta(seconds=200))
        post(credentials(robot.client_id, "x"))
        post(credentials(robot.client_id, "x"))
        response = post(credentials(robot.client_id))
        assert (response.status_code, response["Retry-After"]) == (429, "100")

    def test_ended_windows_are_pruned(self, robot, time_machine):
        post(credentials("nobody", "x"), REMOTE_ADDR="10.0.0.1")
        time_machine.shift(timedelta(seconds=300))
        post(credentials(robot.client_id, "x"), REMOTE_ADDR="10.0.0.2")
        assert failure_counts() == {
            ("client_id", robot.client_id): 1,
            ("address", "10.0.0.2"): 1,
        }

    def test_an_unknown_id_and_a_wrong_secret_cost_the_same(self, robot, monkeypatch):
        # The same password hashing and the same queries: the time taken says nothing either.
        hashed = []
        encode = MD5PasswordHasher.encode
        monkeypatch.setattr(
            MD5PasswordHasher, "encode", lambda *args: hashed.append(1) or encode(*args)
        )
        costs = []
        for n, body in enumerate([credentials("nobody", "x"), credentials(robot.client_id, "x")]):
            hashed.clear()
            with CaptureQueriesContext(connection) as queries:
                assert post(body, REMOTE_ADDR=f"10.0.0.{n}").status_code == 401
            costs.append((len(hashed), len(queries)))
        assert costs[0] == costs[1]
        assert costs[0][0] == 1

    def test_malformed_requests_count_nothing(self):
        for _ in range(4):
            assert post({"grantType": "client_credentials"}).status_code == 400
        assert failure_counts() == {}

    def test_operators_can_lift_a_wait_in_the_admin(self, robot, admin_client):
        for _ in range(3):
            post(credentials(robot.client_id, "x"))
        changelist = admin_client.get("/admin/tenancy/tokenfailure/")
        assert robot.client_id in changelist.content.decode()
        admin_client.post(
            "/admin/tenancy/tokenfailure/",
            {
                "action": "delete_selected",
                "_selected_action": TokenFailure.objects.values_list("pk", flat=True),
                "post": "yes",
            },
        )
        assert failure_counts() == {}
        assert post(credentials(robot.client_id)).status_code == 200


class TestClientAddress:
    """Whose address a failure counts against: the connection's, or a trusted proxy's word."""

    @pytest.mark.parametrize(
        "header, count, forwarded, expected",
        [
            ("", 1, "6.6.6.6", "10.0.0.1"),  # not configured: the header proves nothing
            ("X-Forwarded-For", 1, "6.6.6.6, 192.0.2.7", "192.0.2.7"),
            ("X-Forwarded-For", 2, "6.6.6.6, 192.0.2.7, 10.0.0.9", "192.0.2.7"),
            ("X-Forwarded-For", 1, "192.0.2.7", "192.0.2.7"),
            ("X-Forwarded-For", 2, "192.0.2.7", "10.0.0.1"),  # past fewer proxies than said
            ("X-Forwarded-For", 1, None, "10.0.0.1"),
            ("X-Real-IP", 1, "192.0.2.7", "10.0.0.1"),  # another header than the one named
        ],
    )
    def test_it_reads_the_address_the_settings_trust(
        self, settings, header, count, forwarded, expected
    ):
        settings.TRUSTED_PROXY_HEADER = header
        settings.TRUSTED_PROXY_COUNT = count
        extra = {"REMOTE_ADDR": "10.0.0.1"}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        assert client_address(RequestFactory().get("/", **extra)) == expected

    def test_the_header_is_ignored_unless_configured(self):
        for n in range(3):
            post(
                credentials("nobody", "x"),
                REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
            )
        assert failure_counts()[("address", "10.0.0.1")] == 3
        assert ("address", "192.0.2.0") not in failure_counts()

    def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(self, settings):
        settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
        settings.TRUSTED_PROXY_COUNT = 1
        settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 2
        for n in (1, 1, 2):
            post(
                credentials(f"nobody-{n}", "x"),
                REMOTE_ADDR="10.0.0.1",
                HTTP_X_FORWARDED_FOR=f"6.6.6.6, 192.0.2.{n}",
            )
        counted = post(
            credentials("nobody-3", "x"),
            REMOTE_ADDR="10.0.0.1",
            HTTP_X_FORWARDED_FOR="192.0.2.1",
        )
        assert counted.status_code == 429
        assert failure_counts()[("address", "192.0.2.1")] == 3
        assert failure_counts()[("address", "192.0.2.2")] == 1
        assert ("address", "10.0.0.1") not in failure_counts()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_server_processes_count_failures_together(robot, tmp_path):
    """Each process's memory would let every process allow its own tries; the database does not."""
    servers = []
    try:
        for _ in range(2):
            servers.append(_start_server(tmp_path))
        ports = [port for _, port in servers]
        statuses = [
            _post_json(ports[attempt % 2], credentials(robot.client_id, "x"))
            for attempt in range(5)
        ]
        assert statuses == [401, 401, 401, 401, 429]
        # The right secret waits too, on either server.
        assert [_post_json(port, credentials(robot.client_id)) for port in ports] == [429, 429]
        # Twenty at once, on both: not one count is lost.
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(
                pool.map(
                    lambda n: _post_json(ports[n % 2], credentials(f"nobody-{n}", "x")),
                    range(20),
                )
            )
        assert statuses == [401] * 20
        assert failure_counts()[("address", "127.0.0.1")] == 4 + 20
        assert [process.poll() for process, _ in servers] == [None, None], "a server died"
    finally:
        for process, _ in servers:
            stop(process)


def _start_server(media) -> tuple[subprocess.Popen, int]:
    """`runserver` on the test database, with the test settings' fast password hasher, on a
    free port below the ephemeral range (where other tests' servers and connections are)."""
    for _ in range(5):
        port = random.randrange(20_000, 32_000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        process = start_worker(
            media,
            *("manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"),
            DJANGO_SETTINGS_MODULE="reports_site.test_settings",
            API_TOKEN_MAX_FAILURES="4",
        )
        if _serving(process, port):
            return process, port
        stop(process)
    raise AssertionError("could not start a server")


def _serving(process: subprocess.Popen, port: int, timeout: float = 60) -> bool:
    """Whether the server answers on the port before it exits (as it does if the port is taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{REPORTS}/availability", timeout=5)
        except urllib.error.HTTPError:
            return True  # 401: it answers
        except OSError:
            time.sleep(0.2)
        else:
            return True
    return False


def _post_json(port: int, body: dict) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{URL}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


class TestBearerToken:
    def test_no_token_is_401(self):
        response = APIClient().get(REPORTS)
        assert response.status_code == 401
        assert response.json() == {
            "code": 401,
            "message": "Authentication credentials were not provided.",
        }
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_an_expired_token_is_401(self, robot, settings):
        settings.API_TOKEN_LIFETIME_SECONDS = -1
        client = bearer(robot)
        response = client.get(REPORTS)
        assert response.status_code == 401
        assert response.json()["message"] == "The access token has expired."

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer not-a-token",
            "Bearer a.b.c",
            "Bearer",
            "Bearer two words",
        ],
    )
    def test_a_malformed_token_is_401(self, header):
        response = APIClient().get(REPORTS, HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert response.json()["code"] == 401

    def test_a_token_signed_with_another_key_is_401(self, robot):
        forged = jwt.encode(
            {
                "iss": tokens.ISSUER,
                "sub": f"sa:{robot.pk}",
                "tid": robot.tenant_id,
                "iat": int(time.time()),
                "exp": int(time.time()) + 60,
            },
            "not our key, though long enough for HS256",
            algorithm="HS256",
        )
        response = APIClient().get(REPORTS, HTTP_AUTHORIZATION=f"Bearer {forged}")
        assert response.status_code == 401
        assert response.json()["message"] == "The access token is not valid."
