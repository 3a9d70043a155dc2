"""Settings come from the environment, fail loudly on bad values, and pass the deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from reports_site.settings import env_bool, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-for-the-deploy-check-only-" + "x" * 40,
    "ALLOWED_HOSTS": "reports.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh process with the given environment on top of a clean one."""
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestEnvHelpers:
    @pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("off", False)])
    def test_env_bool_reads_yes_and_no(self, monkeypatch, raw, expected):
        monkeypatch.setenv("FLAG", raw)
        assert env_bool("FLAG", not expected) is expected

    def test_env_bool_rejects_anything_else(self, monkeypatch):
        monkeypatch.setenv("FLAG", "maybe")
        with pytest.raises(ImproperlyConfigured, match="FLAG must be one of"):
            env_bool("FLAG", False)

    def test_env_int_rejects_words(self, monkeypatch):
        monkeypatch.setenv("COUNT", "ten")
        with pytest.raises(ImproperlyConfigured, match="COUNT must be a whole number; got 'ten'"):
            env_int("COUNT", 1)

    def test_defaults_apply_when_unset(self, monkeypatch):
        monkeypatch.delenv("UNSET_FOR_TEST", raising=False)
        assert env_int("UNSET_FOR_TEST", 7) == 7
        assert env_list("UNSET_FOR_TEST", ["a"]) == ["a"]

    def test_env_list_splits_on_commas(self, monkeypatch):
        monkeypatch.setenv("HOSTS", "a.example, b.example,,")
        assert env_list("HOSTS", []) == ["a.example", "b.example"]


class TestDeployCheck:
    def test_the_documented_production_environment_passes(self, tmp_path):
        result = manage(
            "check", "--deploy", "--fail-level", "WARNING", VAR_DIR=str(tmp_path), **PRODUCTION_ENV
        )
        assert result.returncode == 0, result.stderr
        assert "no issues" in result.stdout

    def test_it_fails_when_a_strict_default_is_loosened(self, tmp_path):
        result = manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            VAR_DIR=str(tmp_path),
            SESSION_COOKIE_SECURE="0",
            **PRODUCTION_ENV,
        )
        assert result.returncode != 0
        assert "security.W012" in result.stderr

    def test_production_without_a_secret_key_refuses_to_start(self, tmp_path):
        env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
        result = manage("check", VAR_DIR=str(tmp_path), **env)
        assert result.returncode != 0
        assert "SECRET_KEY must be set when DEBUG is off." in result.stderr


class TestSQLite:
    def test_the_default_database_uses_wal_and_immediate_transactions(self, tmp_path):
        script = (
            "from django.db import connection\n"
            "cursor = connection.cursor()\n"
            "print(cursor.execute('PRAGMA journal_mode').fetchone()[0])\n"
            "print(connection.settings_dict['OPTIONS']['transaction_mode'])\n"
            "print(cursor.execute('PRAGMA busy_timeout').fetchone()[0])\n"
        )
        result = manage("shell", "-v", "0", "-c", script, VAR_DIR=str(tmp_path), DATABASE_URL="")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["wal", "IMMEDIATE", "30000"]
        assert (tmp_path / "db.sqlite3").exists()


class TestSeveralMachines:
    SCRIPT = (
        "from django.conf import settings\n"
        "from django.core.cache import caches\n"
        "from django.core.files.storage import storages\n"
        "from django_q.brokers import get_broker\n"
        "files = storages['default']\n"
        "print(type(get_broker()).__name__)\n"
        "print(type(caches['default']).__name__)\n"
        "print(settings.SESSION_ENGINE)\n"
        "print(type(files).__name__)\n"
        "print(getattr(files, 'bucket_name', '-'), getattr(files, 'location', '-'))\n"
    )

    def test_nothing_configured_is_one_machine(self, tmp_path):
        result = manage("shell", "-v", "0", "-c", self.SCRIPT, VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:4] == [
            "ORM",
            "LocMemCache",
            "django.contrib.sessions.backends.db",
            "FileSystemStorage",
        ]

    def test_redis_and_a_bucket_are_switched_on_by_the_environment(self, tmp_path):
        result = manage(
            "shell",
            "-v",
            "0",
            "-c",
            self.SCRIPT,
            VAR_DIR=str(tmp_path),
            REDIS_URL="redis://127.0.0.1:6379/15",
            S3_BUCKET="team-reports",
            S3_PREFIX="/production/",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "Redis",
            "RedisCache",
            "django.contrib.sessions.backends.cached_db",
            "S3Storage",
            "team-reports production",
        ]

    def test_production_with_redis_and_a_bucket_passes_the_deploy_check(self, tmp_path):
        result = manage(
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
            VAR_DIR=str(tmp_path),
            REDIS_URL="redis://127.0.0.1:6379/15",
            S3_BUCKET="team-reports",
            S3_DOWNLOAD_REDIRECT="1",
            **PRODUCTION_ENV,
        )
        assert result.returncode == 0, result.stderr

    def test_a_poll_that_is_not_a_number_is_refused(self, tmp_path):
        result = manage("check", VAR_DIR=str(tmp_path), Q_POLL_SECONDS="fast")
        assert result.returncode != 0
        assert "Q_POLL_SECONDS must be a number; got 'fast'" in result.stderr


class TestDeliverySettings:
    SCRIPT = (
        "from django.conf import settings as s\n"
        "print(s.EMAIL_BACKEND)\n"
        "print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_USE_SSL)\n"
        "print(s.EMAIL_HOST_USER, s.EMAIL_HOST_PASSWORD)\n"
        "print(s.DEFAULT_FROM_EMAIL)\n"
        "print(s.SITE_URL or '-', s.DELIVERY_ATTACHMENT_MAX_BYTES, s.DELIVERY_MAX_ATTEMPTS)\n"
    )

    def test_the_mail_relay_and_site_url_come_from_the_environment(self, tmp_path):
        result = manage(
            "shell",
            "-v",
            "0",
            "-c",
            self.SCRIPT,
            VAR_DIR=str(tmp_path),
            EMAIL_HOST="relay.acme.internal",
            EMAIL_PORT="587",
            EMAIL_USE_TLS="1",
            EMAIL_HOST_USER="reports",
            EMAIL_HOST_PASSWORD="pa55",
            DEFAULT_FROM_EMAIL="GPU reports <gpu@acme.example>",
            SITE_URL="https://reports.acme.example/",
            DELIVERY_ATTACHMENT_MAX_BYTES="1000",
            DELIVERY_MAX_ATTEMPTS="3",
            **PRODUCTION_ENV,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            "django.core.mail.backends.smtp.EmailBackend",
            "relay.acme.internal 587 True False",
            "reports pa55",
            "GPU reports <gpu@acme.example>",
            "https://reports.acme.example 1000 3",
        ]

    def test_development_without_a_relay_prints_the_mail(self, tmp_path):
        result = manage("shell", "-v", "0", "-c", self.SCRIPT, VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == "django.core.mail.backends.console.EmailBackend"
        assert lines[4] == "http://127.0.0.1:8000 10485760 5"

    def test_production_has_no_site_url_unless_given(self, tmp_path):
        result = manage(
            "shell", "-v", "0", "-c", self.SCRIPT, VAR_DIR=str(tmp_path), **PRODUCTION_ENV
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == "django.core.mail.backends.smtp.EmailBackend"
        assert result.stdout.splitlines()[4].startswith("- ")

    @pytest.mark.parametrize(
        "env, message",
        [
            (
                {"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"},
                "Set one of EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL",
            ),
            ({"SITE_URL": "reports.acme.example"}, "SITE_URL must start with http:// or https://"),
            ({"DELIVERY_MAX_ATTEMPTS": "0"}, "DELIVERY_MAX_ATTEMPTS and DELIVERY_WEBHOOK_TIMEOUT"),
        ],
    )
    def test_contradictions_are_refused(self, tmp_path, env, message):
        result = manage("check", VAR_DIR=str(tmp_path), **env)
        assert result.returncode != 0
        assert message in result.stderr


@pytest.mark.django_db
def test_postgresql_compiles_no_plans():
    # JIT compiling a report's large plans costs far more than it saves (settings.DATABASES).
    if connection.vendor != "postgresql":
        pytest.skip("JIT compilation is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
