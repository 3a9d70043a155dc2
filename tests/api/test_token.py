"""POST /api/v1/token: service accounts trade their client ID and secret for a signed JWT."""

import base64
import json
import time

import jwt
import pytest
from rest_framework.test import APIClient

from reports.api import tokens
from tests.api.conftest import SECRET, bearer

URL = "/api/v1/token"
REPORTS = "/api/v1/org-unit/reports"

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

    def test_repeated_failures_are_throttled(self, robot, settings):
        settings.API_TOKEN_MAX_FAILURES = 3
        wrong = {
            "grantType": "client_credentials",
            "clientID": robot.client_id,
            "clientSecret": "x",
        }
        assert [ask(wrong)[0] for _ in range(3)] == [401, 401, 401]
        response = APIClient().post(
            URL,
            {
                "grantType": "client_credentials",
                "clientID": robot.client_id,
                "clientSecret": SECRET,
            },
            format="json",
        )
        # Even the right secret waits now: the address has had its tries.
        assert response.status_code == 429
        assert response["Retry-After"] == "300"
        assert response.json()["code"] == 429


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
