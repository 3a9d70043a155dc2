"""`manage.py add_usage_source --tenant SLUG NAME --url URL --cluster-id UUID --cluster-name NAME`:
collect a cluster's usage from its Prometheus."""

import os
import uuid
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, models, transaction

from consumption.importing import OrgTree
from consumption.models import UsageSource
from reports_site.tenancy.commands import moment_option, tenant_by_slug
from reports_site.tenancy.models import Cluster, Tenant

# The options that set a field, with their metavars; each is shown with the field's own help
# and default.
FIELD_OPTIONS = {
    "--url": ("url", "URL"),
    "--project-label": ("project_label", "KEY"),
    "--namespace-prefix": ("namespace_prefix", "P"),
    "--department-label": ("department_label", "KEY"),
    "--nodepool-label": ("nodepool_label", "KEY"),
    "--exclude-namespaces": ("exclude_namespaces", "N,..."),
    "--scrape-interval": ("scrape_interval_seconds", "S"),
    "--lag": ("lag_seconds", "S"),
    "--token-env": ("token_env", "VAR"),
    "--ca-file": ("ca_file", "PATH"),
    "--start": ("start", "ISO"),
}
# Where the model's errors come from on the command line. Its only error that is not a field's
# is the name's (unique in the tenant, ignoring case).
OPTION_OF_FIELD = {
    **{field: option for option, (field, _) in FIELD_OPTIONS.items()},
    "name": "NAME",
    "__all__": "NAME",
    "cluster": "--cluster-id",
}


class Command(BaseCommand):
    help = (
        "Add a usage source: the Prometheus of one cluster of a tenant, from which collect_usage "
        "collects usage hour by hour. The cluster is the tenant's cluster with that UUID, "
        "created when it is new. A token is never given here: --token-env names the environment "
        "variable that holds it where the collector runs. Blank label options mean none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "name", metavar="NAME", help=UsageSource._meta.get_field("name").help_text
        )
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="the tenant")
        parser.add_argument(
            "--cluster-id", required=True, metavar="UUID", help="the cluster's UUID (clusterId)"
        )
        parser.add_argument(
            "--cluster-name", required=True, metavar="NAME", help="the cluster's name"
        )
        for option, (field_name, metavar) in FIELD_OPTIONS.items():
            field = UsageSource._meta.get_field(field_name)
            parser.add_argument(
                option,
                dest=field_name,
                required=option == "--url",
                type=int if isinstance(field, models.IntegerField) else str,
                metavar=metavar,
                help=_help(option, field),
            )

    def handle(self, *args, name: str, tenant: str, **options) -> None:
        tenant_obj = tenant_by_slug(tenant)
        cluster_id = _uuid(options["cluster_id"])
        fields = {
            field: options[field]
            for field, _ in FIELD_OPTIONS.values()
            if options[field] is not None  # not given: the model's default
        }
        if "start" in fields:
            fields["start"] = moment_option("--start", fields["start"])
        try:
            with transaction.atomic():
                cluster, created = _cluster(tenant_obj, cluster_id, options["cluster_name"])
                source = UsageSource(tenant=tenant_obj, name=name, cluster=cluster, **fields)
                source.full_clean()
                source.save()
        except ValidationError as invalid:
            problems = "".join(
                f"\n  {OPTION_OF_FIELD.get(field, field)}: {' '.join(messages)}"
                for field, messages in invalid.message_dict.items()
            )
            raise CommandError(f"The usage source was not created:{problems}") from None
        except IntegrityError:
            # Another source of this name or cluster was made between the check and the insert.
            raise CommandError(
                "Another usage source of this name or cluster was created at the same time; "
                "nothing was created. Run the command again to see which."
            ) from None
        self._describe(source, created)
        self._warn_about_this_environment(source)

    def _describe(self, source: UsageSource, cluster_created: bool) -> None:
        cluster = source.cluster
        self.stdout.write(
            f"Created usage source {source.name} in tenant {source.tenant.slug} (id {source.pk})."
        )
        self.stdout.write(
            f"Cluster:      {cluster.name} ({cluster.uuid}), "
            f"{'created' if cluster_created else 'existing'}"
        )
        token = f"token from ${source.token_env}" if source.token_env else "no token"
        ca = f", CA file {source.ca_file}" if source.ca_file else ""
        self.stdout.write(f"Prometheus:   {source.url} ({token}{ca})")
        prefix = f" less {source.namespace_prefix!r}" if source.namespace_prefix else ""
        self.stdout.write(
            f"Projects:     label {source.project_label} of the pod or its namespace, else the "
            f"namespace's name{prefix}"
        )
        departments = (
            f"namespace label {source.department_label}"
            if source.department_label
            else "the project's department in the cluster, else default"
        )
        self.stdout.write(f"Departments:  {departments}")
        nodepools = (
            f"node label {source.nodepool_label}, else default"
            if source.nodepool_label
            else "default"
        )
        self.stdout.write(f"Node pools:   {nodepools}")
        excluded = ", ".join(source.excluded_namespaces) or "none"
        self.stdout.write(f"Excluded:     {excluded}")
        self.stdout.write(
            f"Collecting:   from {source.start:%Y-%m-%dT%H:%MZ}, "
            f"{'enabled' if source.enabled else 'disabled'}; scrape interval "
            f"{source.scrape_interval_seconds} s, lag {source.lag_seconds} s"
        )

    def _warn_about_this_environment(self, source: UsageSource) -> None:
        # Only warnings: the collector may run in another environment than this command.
        if source.token_env and not os.environ.get(source.token_env):
            self.stderr.write(
                f"Note: {source.token_env} is not set here; the collector needs it in its own "
                "environment."
            )
        if source.token_env and source.url.lower().startswith("http://"):
            self.stderr.write("Note: the token will be sent over plain http.")
        if source.ca_file and not os.path.isfile(source.ca_file):
            self.stderr.write(
                f"Note: {source.ca_file} is not a file here; the collector needs it where it runs."
            )


def _help(option: str, field: models.Field) -> str:
    if option == "--url":
        text = field.help_text
    elif option == "--start":
        text = f"{field.help_text} An ISO 8601 date or time (default: midnight UTC 7 days ago)."
    else:
        text = f"{field.help_text} (default: {field.get_default() or 'none'})"
    return text.replace("%", "%%")  # argparse formats help with %


class _ClusterNamed(NamedTuple):
    """The part of an imported row that names its cluster."""

    line: int
    cluster_id: uuid.UUID
    cluster: str


# The importer's errors name the file's fields.
_OPTION_OF_ROW_FIELD = {"cluster": "--cluster-name", "cluster_id": "--cluster-id"}


def _cluster(tenant: Tenant, cluster_id: uuid.UUID, name: str) -> tuple[Cluster, bool]:
    """The tenant's cluster with this UUID, or a new one, by the importer's rules: a UUID of
    another tenant, another name for a known UUID, or a name of another UUID is refused."""
    name = name.strip()
    max_name = Cluster._meta.get_field("name").max_length
    if not name or len(name) > max_name or not name.isprintable():
        raise CommandError(
            f"--cluster-name: give a name of 1 to {max_name} characters, without control "
            "characters."
        )
    known = Cluster.objects.filter(tenant=tenant, uuid=cluster_id).exists()
    found = OrgTree(tenant)._cluster(_ClusterNamed(0, cluster_id, name))
    if not isinstance(found, Cluster):
        raise CommandError(f"{_OPTION_OF_ROW_FIELD[found.field]}: {found.reason}.")
    return found, not known


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        raise CommandError(
            f"--cluster-id: {text!r} is not a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e."
        ) from None
