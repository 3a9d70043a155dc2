"""Usage sources: what a source may say (each rule with its message), its name, its token, the
add_usage_source command, the admin, and the samples that name it."""

import io
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from consumption.management.commands.add_usage_source import Command
from consumption.models import TokenMissing, UsageSample, UsageSource
from reports_site.tenancy.models import Cluster
from tests.consumption.samples import sample, save_samples
from tests.consumption.test_import_usage import EAST, WEST, csv_file, row
from tests.consumption.test_import_usage import run as import_file
from tests.factories import (
    ClusterFactory,
    DepartmentFactory,
    ProjectFactory,
    UsageSourceFactory,
)

TOKEN = "tok-3f9a71c2e8b54d6a"  # the secret of the tests: it must never be shown
MARCH_10 = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def east(tenant):
    return ClusterFactory(tenant=tenant, name="east", uuid=EAST)


@pytest.fixture
def source(tenant, east):
    return UsageSourceFactory(
        tenant=tenant,
        cluster=east,
        name="east-prometheus",
        url="https://prometheus.east.example:9090",
        token_env="EAST_PROMETHEUS_TOKEN",
        start=MARCH_10,
    )


def errors(tenant, cluster, **fields) -> dict[str, list[str]]:
    """What full_clean() says of a source of `cluster` with these fields ({} when valid)."""
    fields.setdefault("name", "east-prometheus")
    fields.setdefault("url", "https://prometheus.east.example:9090")
    candidate = UsageSourceFactory.build(tenant=tenant, cluster=cluster, **fields)
    try:
        candidate.full_clean()
    except ValidationError as invalid:
        return invalid.message_dict
    return {}


@pytest.mark.django_db
class TestValidation:
    def test_the_defaults_are_valid(self, tenant, east):
        assert errors(tenant, east) == {}
        source = UsageSource(tenant=tenant, cluster=east)
        assert (
            source.project_label,
            source.namespace_prefix,
            source.department_label,
            source.nodepool_label,
            source.excluded_namespaces,
            source.scrape_interval_seconds,
            source.lag_seconds,
            source.enabled,
            source.collected_until,
        ) == ("runai/queue", "runai-", "", "", ["runai-reservation"], 60, 300, True, None)

    @pytest.mark.parametrize("name", ["east prometheus", "-east", "east/1", ""])
    def test_a_name_is_letters_digits_dots_hyphens_underscores(self, tenant, east, name):
        assert errors(tenant, east, name=name)["name"] in (
            ["Use letters, digits, '.', '-' and '_', starting with a letter or digit."],
            ["This field cannot be blank."],
        )

    def test_the_url_is_http_or_https(self, tenant, east):
        assert errors(tenant, east, url="ftp://prometheus.example")["url"] == [
            "Use an http:// or https:// URL."
        ]
        assert errors(tenant, east, url="http://prometheus.monitoring.svc:9090") == {}

    def test_the_url_holds_no_password(self, tenant, east):
        assert errors(tenant, east, url="https://admin:hunter2@prometheus.example")["url"] == [
            "Put no user name or password in the URL: it would be stored in clear. Name an "
            "environment variable that holds a bearer token instead."
        ]

    def test_the_url_is_a_base_url(self, tenant, east):
        message = "Give the base URL only, without ? or #: the collector adds /api/v1/... to it."
        assert errors(tenant, east, url="https://prometheus.example/?x=1")["url"] == [message]
        assert errors(tenant, east, url="https://prometheus.example/#top")["url"] == [message]
        assert errors(tenant, east, url="https://prometheus.example/prometheus") == {}

    @pytest.mark.parametrize("value", ["prometheus_token", "1TOKEN", "MY-TOKEN", "ghp_Ab12Cd34"])
    def test_the_token_variable_is_a_variable_name(self, tenant, east, value):
        assert errors(tenant, east, token_env=value)["token_env"] == [
            "Enter the name of an environment variable, such as PROMETHEUS_TOKEN (capital "
            "letters, digits and underscores, not starting with a digit), not the token itself."
        ]

    @pytest.mark.parametrize("value", ["PROMETHEUS_TOKEN", "_T", "T2"])
    def test_a_variable_name_is_accepted(self, tenant, east, value):
        assert errors(tenant, east, token_env=value) == {}

    def test_the_ca_file_is_an_absolute_path(self, tenant, east):
        assert errors(tenant, east, ca_file="certs/ca.pem")["ca_file"] == [
            "Give an absolute path: the collector does not run in this directory."
        ]
        assert errors(tenant, east, ca_file="/etc/ssl/prometheus-ca.pem") == {}

    def test_a_ca_file_needs_https(self, tenant, east):
        invalid = errors(tenant, east, url="http://prometheus.example", ca_file="/etc/ca.pem")
        assert invalid == {"ca_file": ["A CA file is used only with an https:// URL."]}

    @pytest.mark.parametrize(
        "interval, message",
        [
            (0, "Ensure this value is greater than or equal to 1."),
            (3601, "Ensure this value is less than or equal to 3600."),
            (
                7,
                "3600 must be a multiple of the scrape interval (such as 15, 30, 60 or 120 "
                "seconds), so that every hour holds the same whole number of scrapes.",
            ),
        ],
    )
    def test_the_scrape_interval_divides_an_hour(self, tenant, east, interval, message):
        assert errors(tenant, east, scrape_interval_seconds=interval) == {
            "scrape_interval_seconds": [message]
        }

    @pytest.mark.parametrize("interval", [1, 15, 30, 60, 120, 3600])
    def test_intervals_that_divide_an_hour_are_accepted(self, tenant, east, interval):
        assert errors(tenant, east, scrape_interval_seconds=interval) == {}

    def test_the_lag_is_at_most_a_day(self, tenant, east):
        assert errors(tenant, east, lag_seconds=86_401) == {
            "lag_seconds": ["Ensure this value is less than or equal to 86400."]
        }
        assert errors(tenant, east, lag_seconds=0) == {}

    @pytest.mark.parametrize(
        "field", ["project_label", "department_label", "nodepool_label"], ids=str
    )
    @pytest.mark.parametrize("key", ["run ai", "Runai/queue", "runai/", "/queue", "a" * 64, "-x"])
    def test_labels_are_kubernetes_label_keys(self, tenant, east, field, key):
        assert errors(tenant, east, **{field: key}) == {
            field: [
                "Enter a Kubernetes label key such as runai/queue or team: an optional DNS "
                "prefix and '/', then up to 63 letters, digits, '-', '_' or '.', starting and "
                "ending with a letter or digit."
            ]
        }

    @pytest.mark.parametrize(
        "key", ["team", "kai.scheduler/queue", "app.kubernetes.io/name", "Pool_A", "a" * 63]
    )
    def test_label_keys_are_accepted(self, tenant, east, key):
        assert errors(tenant, east, project_label=key, nodepool_label=key) == {}

    def test_the_project_label_is_required(self, tenant, east):
        assert errors(tenant, east, project_label="") == {
            "project_label": ["This field cannot be blank."]
        }

    @pytest.mark.parametrize("prefix", ["Runai-", "-runai", "runai_"])
    def test_the_namespace_prefix_is_the_start_of_a_namespace_name(self, tenant, east, prefix):
        assert errors(tenant, east, namespace_prefix=prefix) == {
            "namespace_prefix": [
                "Use lowercase letters, digits and '-', starting with a letter or digit, as "
                "namespace names do."
            ]
        }
        assert errors(tenant, east, namespace_prefix="") == {}

    def test_excluded_namespaces_are_namespace_names(self, tenant, east):
        assert errors(tenant, east, exclude_namespaces="runai-reservation, Kube_System, x-") == {
            "exclude_namespaces": [
                "Not a namespace name: Kube_System, x-. Namespaces are lowercase letters, "
                "digits and '-', starting and ending with a letter or digit; separate them with "
                "commas."
            ]
        }

    def test_excluded_namespaces_are_a_list(self, tenant, east):
        source = UsageSource(exclude_namespaces=" runai-reservation,kube-system, ,")
        assert source.excluded_namespaces == ["runai-reservation", "kube-system"]
        assert UsageSource(exclude_namespaces="").excluded_namespaces == []
        assert errors(tenant, east, exclude_namespaces="") == {}

    @pytest.mark.parametrize(
        "moment",
        [
            datetime(2026, 3, 10, 10, 30, tzinfo=UTC),
            datetime(2026, 3, 10, 10, 0, 1, tzinfo=UTC),
            datetime(2026, 3, 10, 10, 0, 0, 1, tzinfo=UTC),
            datetime.fromisoformat("2026-03-10T10:00+05:30"),  # 04:30 UTC
        ],
    )
    def test_the_first_hour_and_collected_until_are_whole_utc_hours(self, tenant, east, moment):
        message = ["Must be a whole UTC hour, such as 2026-03-01 10:00 UTC."]
        assert errors(tenant, east, start=moment, collected_until=moment) == {
            "start": message,
            "collected_until": message,
        }

    def test_a_whole_hour_in_another_zone_is_accepted(self, tenant, east):
        ten_utc = datetime.fromisoformat("2026-03-10T12:00+02:00")
        assert errors(tenant, east, start=ten_utc, collected_until=ten_utc) == {}

    def test_the_cluster_is_the_tenants(self, tenant, other_tenant):
        theirs = ClusterFactory(tenant=other_tenant)
        assert errors(tenant, theirs) == {"cluster": ["The cluster belongs to another tenant."]}

    def test_a_cluster_has_one_source(self, tenant, source):
        assert errors(tenant, source.cluster, name="another") == {
            "cluster": [
                "This cluster has a usage source already: two would write the same pods' usage."
            ]
        }
        with pytest.raises(IntegrityError), transaction.atomic():
            UsageSourceFactory(tenant=tenant, cluster=source.cluster)

    def test_it_reads_as_its_name(self, source):
        assert str(source) == "east-prometheus"


@pytest.mark.django_db
class TestNameUniqueness:
    """Enforced by the database (on SQLite and PostgreSQL alike), ignoring case."""

    def test_full_clean_refuses_a_name_taken_in_another_case(self, tenant, source):
        west = ClusterFactory(tenant=tenant, name="west")
        assert errors(tenant, west, name="EAST-Prometheus") == {
            "__all__": [
                "A usage source with this name already exists in the tenant (names are "
                "compared ignoring case)."
            ]
        }

    def test_the_database_refuses_it_too(self, tenant, source):
        west = ClusterFactory(tenant=tenant, name="west")
        with pytest.raises(IntegrityError), transaction.atomic():
            UsageSource.objects.create(
                tenant=tenant, cluster=west, name="East-Prometheus", url="https://w.example"
            )

    def test_another_tenant_may_use_the_name(self, source, other_tenant):
        theirs = ClusterFactory(tenant=other_tenant)
        assert errors(other_tenant, theirs, name="east-prometheus") == {}


@pytest.mark.django_db
class TestToken:
    def test_it_is_read_from_the_environment_at_each_call(self, source, monkeypatch):
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", TOKEN)
        assert source.token() == TOKEN
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", "rotated")
        assert source.token() == "rotated"

    @pytest.mark.parametrize("value", [None, ""])
    def test_a_missing_variable_is_a_clear_error(self, source, monkeypatch, value):
        if value is None:
            monkeypatch.delenv("EAST_PROMETHEUS_TOKEN", raising=False)
        else:
            monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", value)
        with pytest.raises(TokenMissing) as missing:
            source.token()
        assert str(missing.value) == (
            "Usage source 'east-prometheus' reads its Prometheus token from the environment "
            "variable EAST_PROMETHEUS_TOKEN, which is not set (or empty) in this process. Set "
            "it where the collector runs, or clear the source's token variable."
        )

    def test_a_source_without_a_variable_has_no_token(self, source):
        source.token_env = ""
        assert source.token() is None

    def test_only_the_variables_name_is_stored(self, source, monkeypatch):
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", TOKEN)
        stored = UsageSource.objects.filter(pk=source.pk).values().get()
        assert TOKEN not in repr(stored)


def add(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("add_usage_source", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        add(*args)
    return str(error.value)


def east_args(*extra: str, name: str = "east-prometheus") -> list[str]:
    return [
        name,
        "--tenant=acme",
        "--url=https://prometheus.east.example:9090",
        f"--cluster-id={EAST}",
        "--cluster-name=east",
        *extra,
    ]


@pytest.mark.django_db
class TestAddUsageSource:
    def test_it_creates_a_source_and_its_cluster(self, tenant, monkeypatch):
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", TOKEN)
        out, err = add(
            *east_args(
                "--token-env=EAST_PROMETHEUS_TOKEN",
                "--ca-file=/etc/ssl/east-ca.pem",
                "--start=2026-03-10",
            )
        )
        source = UsageSource.objects.get()
        cluster = Cluster.objects.get(tenant=tenant)
        assert (str(cluster.uuid), cluster.name) == (EAST, "east")
        assert (source.tenant, source.cluster, source.name) == (tenant, cluster, "east-prometheus")
        assert source.url == "https://prometheus.east.example:9090"
        assert (source.token_env, source.ca_file) == (
            "EAST_PROMETHEUS_TOKEN",
            "/etc/ssl/east-ca.pem",
        )
        assert source.start == MARCH_10
        assert out.splitlines() == [
            f"Created usage source east-prometheus in tenant acme (id {source.pk}).",
            f"Cluster:      east ({EAST}), created",
            "Prometheus:   https://prometheus.east.example:9090 (token from "
            "$EAST_PROMETHEUS_TOKEN, CA file /etc/ssl/east-ca.pem)",
            "Projects:     label runai/queue of the pod or its namespace, else the namespace's "
            "name less 'runai-'",
            "Departments:  the project's department in the cluster, else default",
            "Node pools:   default",
            "Excluded:     runai-reservation",
            "Collecting:   from 2026-03-10T00:00Z, enabled; scrape interval 60 s, lag 300 s",
        ]
        assert err == (
            "Note: /etc/ssl/east-ca.pem is not a file here; the collector needs it where it runs.\n"
        )
        assert TOKEN not in out + err

    def test_every_option_sets_its_field(self, tenant):
        out, _ = add(
            *east_args(
                "--project-label=kai.scheduler/queue",
                "--namespace-prefix=",
                "--department-label=team",
                "--nodepool-label=pool",
                "--exclude-namespaces=runai-reservation,kube-system",
                "--scrape-interval=30",
                "--lag=600",
                "--start=2026-03-10T10:00:00+02:00",
            )
        )
        source = UsageSource.objects.get()
        assert (
            source.project_label,
            source.namespace_prefix,
            source.department_label,
            source.nodepool_label,
            source.excluded_namespaces,
            source.scrape_interval_seconds,
            source.lag_seconds,
            source.start,
        ) == (
            "kai.scheduler/queue",
            "",
            "team",
            "pool",
            ["runai-reservation", "kube-system"],
            30,
            600,
            datetime(2026, 3, 10, 8, tzinfo=UTC),
        )
        assert (
            "Projects:     label kai.scheduler/queue of the pod or its namespace, else the "
            "namespace's name\n"
        ) in out
        assert "Departments:  namespace label team\n" in out
        assert "Node pools:   node label pool, else default\n" in out
        assert "Excluded:     runai-reservation, kube-system\n" in out

    @pytest.mark.time_machine(datetime(2026, 3, 17, 15, 42, tzinfo=UTC), tick=False)
    def test_it_starts_at_midnight_a_week_ago_by_default(self, tenant):
        add(*east_args())
        assert UsageSource.objects.get().start == MARCH_10

    def test_it_uses_the_tenants_cluster_with_that_uuid(self, tenant, east):
        out, _ = add(*east_args())
        assert UsageSource.objects.get().cluster == east
        assert f"Cluster:      east ({EAST}), existing\n" in out
        assert Cluster.objects.count() == 1

    def test_it_warns_when_the_token_is_not_here_or_goes_over_http(self, tenant, monkeypatch):
        monkeypatch.delenv("EAST_PROMETHEUS_TOKEN", raising=False)
        _, err = add(
            *east_args("--token-env=EAST_PROMETHEUS_TOKEN", "--url=http://prometheus.example")
        )
        assert err.splitlines() == [
            "Note: EAST_PROMETHEUS_TOKEN is not set here; the collector needs it in its own "
            "environment.",
            "Note: the token will be sent over plain http.",
        ]
        assert UsageSource.objects.get().token_env == "EAST_PROMETHEUS_TOKEN"

    @pytest.mark.parametrize(
        "args, message",
        [
            (
                ["--url=ftp://prometheus.example"],
                "The usage source was not created:\n  --url: Use an http:// or https:// URL.",
            ),
            (
                ["--token-env=tok-3f9a71c2e8b54d6a"],
                "The usage source was not created:\n  --token-env: Enter the name of an "
                "environment variable, such as PROMETHEUS_TOKEN (capital letters, digits and "
                "underscores, not starting with a digit), not the token itself.",
            ),
            (
                ["--scrape-interval=7"],
                "The usage source was not created:\n  --scrape-interval: 3600 must be a "
                "multiple of the scrape interval (such as 15, 30, 60 or 120 seconds), so that "
                "every hour holds the same whole number of scrapes.",
            ),
            (
                ["--scrape-interval=often"],
                "Error: argument --scrape-interval: invalid int value: 'often'",
            ),
            (
                ["--lag=86401"],
                "The usage source was not created:\n  --lag: Ensure this value is less than or "
                "equal to 86400.",
            ),
            (
                ["--project-label=run ai"],
                "The usage source was not created:\n  --project-label: Enter a Kubernetes label "
                "key such as runai/queue or team: an optional DNS prefix and '/', then up to 63 "
                "letters, digits, '-', '_' or '.', starting and ending with a letter or digit.",
            ),
            (
                ["--namespace-prefix=Runai-"],
                "The usage source was not created:\n  --namespace-prefix: Use lowercase letters, "
                "digits and '-', starting with a letter or digit, as namespace names do.",
            ),
            (
                ["--exclude-namespaces=kube_system"],
                "The usage source was not created:\n  --exclude-namespaces: Not a namespace "
                "name: kube_system. Namespaces are lowercase letters, digits and '-', starting "
                "and ending with a letter or digit; separate them with commas.",
            ),
            (
                ["--ca-file=ca.pem"],
                "The usage source was not created:\n  --ca-file: Give an absolute path: the "
                "collector does not run in this directory.",
            ),
            (
                ["--start=2026-03-10T10:30:00Z"],
                "The usage source was not created:\n  --start: Must be a whole UTC hour, such "
                "as 2026-03-01 10:00 UTC.",
            ),
            (
                ["--start=2026-03-10T10:00:00"],
                "--start: '2026-03-10T10:00:00' has no time zone; add Z or an offset.",
            ),
            (
                ["--start=last week"],
                "--start: 'last week' is not an ISO 8601 date or time, e.g. 2026-03-01 or "
                "2026-03-01T10:00Z.",
            ),
            (
                ["--cluster-id=east"],
                "--cluster-id: 'east' is not a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e.",
            ),
            (
                ["--cluster-name= "],
                "--cluster-name: give a name of 1 to 200 characters, without control characters.",
            ),
            (
                ["--tenant=nobody"],
                "Tenant 'nobody' does not exist.",
            ),
        ],
    )
    def test_bad_input_names_its_option_and_creates_nothing(self, tenant, args, message):
        assert refused(*east_args(*args)) == message
        assert not UsageSource.objects.exists()
        assert not Cluster.objects.exists()

    def test_several_mistakes_are_listed_together(self, tenant):
        message = refused(*east_args("--url=ftp://p.example", "--ca-file=ca.pem", name="a b"))
        assert message.splitlines() == [
            "The usage source was not created:",
            "  NAME: Use letters, digits, '.', '-' and '_', starting with a letter or digit.",
            "  --url: Use an http:// or https:// URL.",
            "  --ca-file: Give an absolute path: the collector does not run in this directory. "
            "A CA file is used only with an https:// URL.",
        ]

    def test_a_name_taken_in_another_case_is_refused(self, tenant, source):
        message = refused(
            "EAST-PROMETHEUS",
            "--tenant=acme",
            "--url=https://west.example",
            f"--cluster-id={WEST}",
            "--cluster-name=west",
        )
        assert message == (
            "The usage source was not created:\n  NAME: A usage source with this name already "
            "exists in the tenant (names are compared ignoring case)."
        )
        assert list(Cluster.objects.all()) == [source.cluster]  # west was not kept

    def test_a_source_created_at_the_same_time_is_refused(self, tenant, source, monkeypatch):
        # The other source is stored between this command's check and its insert.
        monkeypatch.setattr(UsageSource, "full_clean", lambda self: None)
        assert refused(*east_args(name="second")) == (
            "Another usage source of this name or cluster was created at the same time; "
            "nothing was created. Run the command again to see which."
        )
        assert list(UsageSource.objects.all()) == [source]

    def test_a_cluster_with_a_source_is_refused(self, tenant, source):
        assert refused(*east_args(name="second")) == (
            "The usage source was not created:\n  --cluster-id: This cluster has a usage "
            "source already: two would write the same pods' usage."
        )

    def test_a_known_uuid_under_another_name_is_refused(self, tenant, east):
        assert refused(*east_args("--cluster-name=west")) == (
            f"--cluster-name: cluster {EAST} is named 'east', not 'west'."
        )

    def test_a_name_of_another_uuid_is_refused(self, tenant, east):
        assert refused(*east_args(f"--cluster-id={WEST}")) == (
            f"--cluster-id: cluster 'east' already exists with id {EAST}."
        )

    def test_another_tenants_cluster_is_refused(self, tenant, other_tenant):
        ClusterFactory(tenant=other_tenant, name="east", uuid=EAST)
        assert refused(*east_args()) == f"--cluster-id: cluster {EAST} belongs to another tenant."
        assert not UsageSource.objects.exists()

    def test_its_help_gives_the_defaults(self):
        parser = Command().create_parser("manage.py", "add_usage_source")
        help_text = " ".join(parser.format_help().split())  # argparse wraps lines
        for phrase in [
            "--project-label KEY",
            "(default: runai/queue)",
            "--namespace-prefix P",
            "(default: runai-)",
            "--exclude-namespaces N,...",
            "(default: runai-reservation)",
            "--scrape-interval S",
            "(default: 60)",
            "--lag S",
            "(default: 300)",
            "(default: midnight UTC 7 days ago)",
            "3600 must be a multiple of it",
            "the token itself is never stored",
        ]:
            assert phrase in help_text
        for option in ["--department-label", "--nodepool-label", "--token-env", "--ca-file"]:
            after = help_text.split(f"{option} ")[2]  # the usage line, then its own help
            assert after.split(" --")[0].endswith("(default: none)")


@pytest.mark.django_db
class TestUsageSourceAdmin:
    def test_the_list_shows_sources_without_their_token(self, admin_client, source, monkeypatch):
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", TOKEN)
        source.last_error = (
            "Prometheus at https://prometheus.east.example:9090 answered 503 Service "
            "Unavailable: the collector tries again at its next run."
        )
        source.save()
        response = admin_client.get(reverse("admin:consumption_usagesource_changelist"))
        assert response.status_code == 200
        html = response.content.decode()
        assert TOKEN not in html
        assert "east-prometheus" in html
        assert "https://prometheus.east.example:9090" in html
        assert source.last_error not in html
        assert f"{source.last_error[:79]}…" in html  # 80 characters at most
        assert list(response.context["cl"].result_list) == [source]

    def test_the_page_of_a_source_shows_the_variable_not_the_token(
        self, admin_client, source, monkeypatch
    ):
        monkeypatch.setenv("EAST_PROMETHEUS_TOKEN", TOKEN)
        url = reverse("admin:consumption_usagesource_change", args=[source.pk])
        html = admin_client.get(url).content.decode()
        assert "EAST_PROMETHEUS_TOKEN" in html
        assert TOKEN not in html

    def test_the_filters(self, admin_client, source, other_tenant):
        theirs = UsageSourceFactory(tenant=other_tenant, enabled=False)
        url = reverse("admin:consumption_usagesource_changelist")
        response = admin_client.get(url, {"tenant__id__exact": source.tenant_id})
        assert list(response.context["cl"].result_list) == [source]
        response = admin_client.get(url, {"enabled__exact": "0"})
        assert list(response.context["cl"].result_list) == [theirs]
        response = admin_client.get(url, {"q": "EAST-prom"})
        assert list(response.context["cl"].result_list) == [source]

    def test_an_operator_adds_a_source(self, admin_client, tenant, east):
        data = {
            "tenant": tenant.pk,
            "name": "east-prometheus",
            "cluster": east.pk,
            "enabled": "on",
            "url": "prometheus.east.example",  # https is assumed
            "token_env": "EAST_PROMETHEUS_TOKEN",
            "ca_file": "",
            "scrape_interval_seconds": "60",
            "project_label": "runai/queue",
            "namespace_prefix": "runai-",
            "department_label": "",
            "nodepool_label": "",
            "exclude_namespaces": "runai-reservation",
            "start_0": "2026-03-10",
            "start_1": "00:00:00",
            "lag_seconds": "300",
        }
        url = reverse("admin:consumption_usagesource_add")
        response = admin_client.post(url, {**data, "scrape_interval_seconds": "7"})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["scrape_interval_seconds"]
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        source = UsageSource.objects.get()
        assert source.url == "https://prometheus.east.example"
        assert source.start == MARCH_10

    def test_what_collection_reports_back_is_read_only(self, admin_client, source):
        url = reverse("admin:consumption_usagesource_change", args=[source.pk])
        form = admin_client.get(url).context["adminform"].form
        for field in ["collected_until", "last_success_at", "last_error", "last_error_at"]:
            assert field not in form.fields


@pytest.mark.django_db
class TestSamplesOfASource:
    def test_deleting_a_source_keeps_its_usage(self, source, tenant):
        vision = ProjectFactory(department=DepartmentFactory(cluster=source.cluster))
        collected = sample(vision, "2026-03-10T10:00Z", 3600, workload="pod-1", gpu=1)
        collected.source = source
        save_samples(collected)
        source.delete()
        kept = UsageSample.objects.get()
        assert (kept.workload, kept.source) == ("pod-1", None)

    def test_imported_samples_have_no_source(self, tmp_path, tenant):
        import_file(csv_file(tmp_path, row(), row(workload="train-2")), tenant)
        assert list(UsageSample.objects.values_list("source", flat=True)) == [None, None]

    def test_importing_over_a_collected_sample_keeps_its_source(self, tmp_path, tenant, source):
        # The importer's upsert sets only the amounts: the sample stays the source's, so that
        # collecting its hour again replaces it. (The collector's author: see the report.)
        import_file(csv_file(tmp_path, row()), tenant)
        UsageSample.objects.update(source=source)
        out, _ = import_file(csv_file(tmp_path, row(gpu_allocated="3"), name="again.csv"), tenant)
        assert out.strip() == "0 created, 1 replaced, 0 rejected."
        replaced = UsageSample.objects.get()
        assert (replaced.gpu_allocated_micro, replaced.source) == (3_000_000, source)
