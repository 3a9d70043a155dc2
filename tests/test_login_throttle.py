"""Login throttling (django-axes): failed logins are counted per account and per address."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from tests.factories import TEST_PASSWORD

ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture(autouse=True)
def throttled(settings):
    """The test settings turn django-axes off (Client.login has no request); these tests need it."""
    settings.AXES_ENABLED = True
    return settings.LOGIN_MAX_FAILURES


def log_in(client, email: str, password: str = TEST_PASSWORD, address: str = ATTACKER, **headers):
    return client.post(
        reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=address, **headers
    )


def fail(client, email: str, times: int, address: str = ATTACKER) -> list[int]:
    """Wrong passwords; the status of each answer."""
    return [log_in(client, email, "wrong", address).status_code for _ in range(times)]


def is_locked_out(response) -> bool:
    return response.status_code == 429 and b"Too many failed log-ins" in response.content


def is_logged_in(response, user) -> bool:
    return response.status_code == 302 and response.wsgi_request.user == user


@pytest.mark.django_db
class TestLoginThrottle:
    def test_the_limit_locks_the_account_even_for_the_right_password(
        self, client, alice, throttled
    ):
        assert fail(client, alice.email, throttled) == [200] * (throttled - 1) + [429]

        response = log_in(client, alice.email)

        assert is_locked_out(response)
        assert "_auth_user_id" not in client.session

    def test_the_lockout_page_says_how_long_to_wait_and_who_can_unlock(
        self, client, alice, throttled, settings
    ):
        settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
        fail(client, alice.email, throttled)

        html = log_in(client, alice.email).content.decode()

        assert "Try again in 15 minutes from the last failed attempt" in html
        assert "ask an operator to unlock it" in html
        assert "correct horse" not in html

    def test_the_account_stays_locked_from_another_address(self, client, alice, throttled):
        fail(client, alice.email, throttled)

        assert is_locked_out(log_in(client, alice.email, address=ELSEWHERE))

    def test_other_accounts_from_another_address_still_log_in(self, client, alice, bob, throttled):
        fail(client, alice.email, throttled)

        assert is_logged_in(log_in(client, bob.email, address=ELSEWHERE), bob)

    def test_the_address_is_locked_for_every_account(self, client, alice, bob, throttled):
        fail(client, alice.email, throttled)

        assert is_locked_out(log_in(client, bob.email))

    def test_guesses_spread_over_addresses_lock_the_account(self, client, alice, throttled):
        for n in range(throttled):
            log_in(client, alice.email, "wrong", address=f"192.0.2.{n + 1}")

        assert is_locked_out(log_in(client, alice.email, address=ELSEWHERE))

    def test_guesses_spread_over_accounts_lock_the_address(self, client, bob, throttled):
        for n in range(throttled):
            log_in(client, f"user{n}@acme.example", "wrong")

        assert is_locked_out(log_in(client, bob.email))
        assert is_logged_in(log_in(client, bob.email, address=ELSEWHERE), bob)

    def test_a_locked_address_cannot_lock_other_accounts(self, client, alice, bob, throttled):
        fail(client, "nobody@acme.example", throttled)
        # Refused at once, and not counted: bob's account is not locked by them.
        assert set(fail(client, bob.email, 3 * throttled)) == {429}

        assert is_logged_in(log_in(client, bob.email, address=ELSEWHERE), bob)

    def test_behind_a_trusted_proxy_the_address_it_forwards_is_counted(
        self, client, bob, throttled, settings
    ):
        settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
        settings.TRUSTED_PROXY_COUNT = 1
        proxy = "10.0.0.1"
        for _ in range(throttled):
            log_in(client, "nobody@acme.example", "wrong", proxy, HTTP_X_FORWARDED_FOR=ATTACKER)

        assert is_locked_out(
            log_in(client, bob.email, address=proxy, HTTP_X_FORWARDED_FOR=ATTACKER)
        )
        response = log_in(client, bob.email, address=proxy, HTTP_X_FORWARDED_FOR=ELSEWHERE)
        assert is_logged_in(response, bob)

    def test_the_email_is_counted_whatever_its_case(self, client, alice, throttled):
        for n in range(throttled):
            log_in(client, alice.email.upper() if n % 2 else alice.email.title(), "wrong")

        assert is_locked_out(log_in(client, alice.email, address=ELSEWHERE))

    def test_the_right_password_works_once_the_lockout_time_has_passed(
        self, client, alice, throttled, settings
    ):
        lockout = timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)
        with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False) as clock:
            fail(client, alice.email, throttled)
            clock.shift(lockout - timedelta(seconds=1))
            assert is_locked_out(log_in(client, alice.email))

            clock.shift(timedelta(seconds=2))
            assert is_logged_in(log_in(client, alice.email), alice)

    def test_an_operator_unlocks_the_account(self, client, alice, throttled):
        fail(client, alice.email, throttled)

        call_command("axes_reset_username", alice.email)

        assert is_logged_in(log_in(client, alice.email), alice)

    def test_the_admin_login_is_throttled_too(self, client, alice, throttled):
        fail(client, alice.email, throttled)

        response = client.post(
            reverse("admin:login"),
            {"username": alice.email, "password": TEST_PASSWORD},
            REMOTE_ADDR=ELSEWHERE,
        )

        assert is_locked_out(response)
