"""collect_usage: which sources and hours it collects, what it prints, and that a failing source
neither holds up the others nor passes unnoticed."""

import io
from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from consumption import collector
from consumption.management.commands.collect_usage import _hour
from consumption.models import UsageSample, UsageSource
from tests.consumption import cluster_history as history
from tests.consumption.cluster_history import HOURS, MIDNIGHT
from tests.consumption.test_collector import expected, moment, start_prometheus, stored
from tests.factories import ClusterFactory, TenantFactory, UsageSourceFactory

END = moment(HOURS[5] + 3600)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    server = start_prometheus(tmp_path_factory, history.PODS)
    yield server
    server.stop()


def make_source(tenant, url: str, name: str = "east-prometheus", **fields):
    return UsageSourceFactory(
        tenant=tenant,
        cluster=ClusterFactory(tenant=tenant, name=f"{name}-cluster"),
        name=name,
        url=url,
        project_label=history.PROJECT_LABEL,
        department_label=history.DEPARTMENT_LABEL,
        nodepool_label=history.NODEPOOL_LABEL,
        start=moment(HOURS[0]),
        **fields,
    )


@pytest.fixture
def source(tenant, prometheus):
    return make_source(tenant, prometheus.url)


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("collect_usage", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def now_is(monkeypatch, epoch: float) -> None:
    """The command's clock (only its own: Prometheus and the database keep theirs)."""
    fixed = datetime.fromtimestamp(epoch, tz=UTC)
    monkeypatch.setattr(
        "consumption.management.commands.collect_usage.timezone", SimpleNamespace(now=lambda: fixed)
    )


def iso(epoch: int) -> str:
    return f"{moment(epoch):%Y-%m-%dT%H:%M}Z"


@pytest.mark.prometheus
@pytest.mark.django_db
class TestCollectUsage:
    def test_it_collects_the_hours_asked_and_says_what_it_wrote(self, source):
        out, err = run("--tenant", "acme", "--start", iso(HOURS[0]), "--end", iso(END.timestamp()))

        assert stored(source) == expected()
        first, last = f"{moment(HOURS[0]):%Y-%m-%d %H:%M}", f"{END:%Y-%m-%d %H:%M}"
        assert out.splitlines() == [
            f"acme/east-prometheus: {first} UTC to {last} UTC: 6 hour(s), "
            f"{len(expected())} sample(s) written, 0 replaced.",
            "  1 pod(s) skipped (excluded namespaces): "
            "runai-reservation/runai-reservation-gpu-node-c-x7k2p",
            "  1 pod(s) skipped (no project): sandbox/notebook-e",
        ]
        assert err == ""

    def test_by_default_it_goes_from_collected_until_to_the_last_complete_hour(
        self, source, monkeypatch
    ):
        source.collected_until = moment(MIDNIGHT)
        source.save()
        # 29 minutes past the hour after END; less the lag of 5 minutes, END is the last whole hour.
        now_is(monkeypatch, END.timestamp() + 3600 + 29 * 60)

        out, _ = run("--source", "EAST-prometheus")

        assert stored(source) == {k: v for k, v in expected().items() if k[2] >= MIDNIGHT}
        source.refresh_from_db()
        assert source.collected_until == moment(END.timestamp() + 3600)
        assert out.startswith(
            f"acme/east-prometheus: {moment(MIDNIGHT):%Y-%m-%d %H:%M} UTC to "
            f"{moment(END.timestamp() + 3600):%Y-%m-%d %H:%M} UTC: 4 hour(s), "
        )

    def test_the_newest_minutes_wait_for_the_lag(self, source, monkeypatch):
        source.collected_until = END
        source.save()
        now_is(monkeypatch, END.timestamp() + 3600 + 4 * 60)  # the hour after END ended 4 min ago

        out, _ = run()

        assert out == (
            f"acme/east-prometheus: nothing to collect; collected up to {END:%Y-%m-%d %H:%M} UTC.\n"
        )

    def test_a_failing_source_does_not_hold_up_the_others_and_exits_non_zero(self, tenant, source):
        down = make_source(tenant, "http://127.0.0.1:9", name="a-down-prometheus")
        errors = io.StringIO()

        with pytest.raises(CommandError, match=r"1 of 2 source\(s\) failed: a-down-prometheus"):
            call_command(
                "collect_usage",
                "--start",
                iso(HOURS[0]),
                "--end",
                iso(END.timestamp()),
                stdout=io.StringIO(),
                stderr=errors,
            )

        assert stored(source) == expected()
        down.refresh_from_db()
        assert down.collected_until is None
        assert "cannot reach Prometheus at http://127.0.0.1:9" in down.last_error
        assert errors.getvalue() == f"acme/a-down-prometheus: {down.last_error}\n"

    def test_disabled_sources_and_other_tenants_are_left_alone(self, tenant, source, prometheus):
        source.enabled = False
        source.save()
        other = make_source(TenantFactory(slug="globex"), prometheus.url, name="globex-prom")

        out, _ = run("--tenant", "acme")

        assert out == "No enabled usage source in tenant acme.\n"
        assert not UsageSample.objects.exists()
        other.refresh_from_db()
        assert other.collected_until is None


@pytest.mark.django_db
class TestMistakes:
    @pytest.mark.parametrize(
        "args, message",
        [
            (["--start", "2026-03-01T10:30Z"], "--start: '2026-03-01T10:30Z' is not a whole hour"),
            (["--end", "2026-03-01T10:00"], "--end: '2026-03-01T10:00' has no time zone"),
            (["--start", "yesterday"], "--start: 'yesterday' is not an ISO 8601 date or time"),
            (
                ["--start", "2026-03-02", "--end", "2026-03-01"],
                "--start must be before --end",
            ),
            (["--source", "nowhere"], "No usage source named 'nowhere'"),
            (["--tenant", "nobody"], "Tenant 'nobody' does not exist"),
        ],
    )
    def test_it_says_what_is_wrong(self, tenant, args, message):
        with pytest.raises(CommandError, match=message):
            run(*args)

    def test_an_hour_with_an_offset_is_read_in_utc(self, tenant):
        make_source(tenant, "http://127.0.0.1:9")

        with pytest.raises(CommandError, match="1 of 1"):
            run("--start", "2026-03-01T12:00+02:00", "--end", "2026-03-01T11:00Z")

        assert UsageSource.objects.get(tenant=tenant).last_error.startswith(
            "Collecting 2026-03-01 10:00 to 2026-03-01 11:00 UTC failed: cannot reach"
        )


def test_a_date_is_its_midnight_utc():
    assert _hour("--start", "2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)


def test_an_end_date_is_included_whole():
    assert _hour("--end", "2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert _hour("--end", "2026-03-01T05:00Z", end=True) == datetime(2026, 3, 1, 5, tzinfo=UTC)


@pytest.mark.django_db
def test_a_source_another_run_is_collecting_is_skipped(tenant):
    if connection.vendor != "postgresql":
        pytest.skip("the lock is PostgreSQL's; SQLite writes one transaction at a time anyway")
    source = make_source(tenant, "http://127.0.0.1:9")
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [collector._LOCK_CLASS, source.pk])

        out, _ = run("--start", "2026-03-01T10:00Z", "--end", "2026-03-01T11:00Z")
    finally:
        other.close()

    assert out == "acme/east-prometheus: skipped, another run is collecting it.\n"
    source.refresh_from_db()
    assert source.last_error == ""
