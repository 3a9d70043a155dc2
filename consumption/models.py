"""Usage samples (what one workload held and used during one interval), their daily rollups, and
the usage sources that collect samples from a cluster's Prometheus.

Amounts are stored as integers so that every sum is exact on every database and the rollups give
the very same totals as the raw samples: GPUs and CPU cores in millionths, memory in whole bytes,
times in whole Unix seconds.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from reports_site.tenancy.models import Cluster, NodePool, Project, Tenant

MICRO = 1_000_000  # GPUs and CPU cores are stored in millionths
HOUR_SECONDS = 3600
DAY_SECONDS = 86_400
MAX_DURATION_SECONDS = DAY_SECONDS
# Memory amounts are summed in two integer parts, whole MiB and the bytes beyond, so that a sum of
# byte-seconds over a long period never overflows a 64-bit integer (SQLite has nothing wider).
MIB = 1 << 20
GIB = 1 << 30


class UsageSampleQuerySet(models.QuerySet):
    def for_tenant(self, tenant) -> UsageSampleQuerySet:
        return self.filter(project__cluster__tenant=tenant)


class UsageSample(models.Model):
    """What one workload held and used during [start, start + duration)."""

    # Samples come by the million, so their foreign keys carry no index of their own (the
    # identity index leads with the project) and no database constraint (checking it costs more
    # than the insert). The importer takes both ids from the org tree in the same transaction,
    # and Django's on_delete still removes a deleted project's or node pool's samples.
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="usage_samples",
        db_index=False,
        db_constraint=False,
    )
    nodepool = models.ForeignKey(
        NodePool,
        on_delete=models.CASCADE,
        related_name="usage_samples",
        verbose_name="node pool",
        db_index=False,
        db_constraint=False,
    )
    workload = models.CharField(max_length=200)
    start_epoch = models.BigIntegerField("start (Unix seconds)")
    duration_seconds = models.PositiveIntegerField()
    gpu_allocated_micro = models.BigIntegerField("GPUs allocated (millionths)")
    gpu_idle_micro = models.BigIntegerField("GPUs idle (millionths)")
    cpu_allocated_micro = models.BigIntegerField("CPU cores allocated (millionths)")
    cpu_used_micro = models.BigIntegerField("CPU cores used (millionths)")
    memory_allocated_bytes = models.BigIntegerField("CPU memory allocated (bytes)")
    memory_used_bytes = models.BigIntegerField("CPU memory used (bytes)")
    # The source that collected the sample; none for imported samples. Kept when the source is
    # deleted: deleting a source must not delete usage. No constraint, as for the keys above,
    # and no index of its own: see the partial index below.
    source = models.ForeignKey(
        "UsageSource",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="usage_samples",
        db_index=False,
        db_constraint=False,
    )

    objects = UsageSampleQuerySet.as_manager()

    class Meta:
        verbose_name = "usage sample"
        constraints = [
            # A sample's identity (spec 3.1: cluster, project, workload, start; the project
            # implies the cluster). Importing it again replaces it. Its index, by project and
            # time, also serves every time-range read of a project's samples.
            models.UniqueConstraint(
                fields=["project", "start_epoch", "workload"], name="usage_sample_identity"
            ),
            models.CheckConstraint(
                condition=Q(duration_seconds__gte=1, duration_seconds__lte=MAX_DURATION_SECONDS),
                name="usage_sample_duration_in_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    gpu_idle_micro__gte=0,
                    gpu_idle_micro__lte=F("gpu_allocated_micro"),
                    cpu_allocated_micro__gte=0,
                    cpu_used_micro__gte=0,
                    memory_allocated_bytes__gte=0,
                    memory_used_bytes__gte=0,
                ),
                name="usage_sample_amounts_valid",
            ),
        ]
        indexes = [
            # What a source wrote for some hours is one indexed DELETE when they are collected
            # again. Only collected samples are in it, so imports never pay for it.
            models.Index(
                fields=["source", "start_epoch"],
                condition=Q(source__isnull=False),
                name="usage_sample_by_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workload} at {self.start:%Y-%m-%d %H:%M:%S}Z"

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_epoch, tz=UTC)

    @property
    def gpu_allocated(self) -> Decimal:
        return Decimal(self.gpu_allocated_micro) / MICRO

    @property
    def gpu_idle(self) -> Decimal:
        return Decimal(self.gpu_idle_micro) / MICRO

    @property
    def cpu_allocated_cores(self) -> Decimal:
        return Decimal(self.cpu_allocated_micro) / MICRO

    @property
    def cpu_used_cores(self) -> Decimal:
        return Decimal(self.cpu_used_micro) / MICRO


class UsageRollup(models.Model):
    """The samples of one project and node pool, summed over one UTC day: each measure is
    amount × seconds of overlap with that day. Kept exact by `consumption.rollups.refresh`."""

    # The identity index below, led by the project, serves as the project's index too.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    nodepool = models.ForeignKey(NodePool, on_delete=models.CASCADE, related_name="+")
    day = models.IntegerField("day (days since 1970-01-01)")
    gpu_allocated = models.BigIntegerField("GPU-seconds allocated (millionths)")
    gpu_idle = models.BigIntegerField("GPU-seconds idle (millionths)")
    cpu_allocated = models.BigIntegerField("core-seconds allocated (millionths)")
    cpu_used = models.BigIntegerField("core-seconds used (millionths)")
    memory_allocated_mib = models.BigIntegerField("MiB-seconds allocated (whole MiB part)")
    memory_allocated_rest = models.BigIntegerField("byte-seconds allocated (part below 1 MiB)")
    memory_used_mib = models.BigIntegerField("MiB-seconds used (whole MiB part)")
    memory_used_rest = models.BigIntegerField("byte-seconds used (part below 1 MiB)")

    class Meta:
        # Reports and refreshes both read a range of days of some projects: the identity
        # serves a few projects, the days a report over thousands (all rollups of a month).
        # That index holds the sums too, so that PostgreSQL reads a report's rollups from it
        # alone (SQLite, which cannot include columns, keeps the keys).
        constraints = [
            models.UniqueConstraint(
                fields=["project", "day", "nodepool"], name="usage_rollup_identity"
            )
        ]
        indexes = [
            models.Index(
                fields=["day", "project"],
                include=[
                    "gpu_allocated",
                    "gpu_idle",
                    "cpu_allocated",
                    "cpu_used",
                    "memory_allocated_mib",
                    "memory_allocated_rest",
                    "memory_used_mib",
                    "memory_used_rest",
                ],
                name="usage_rollup_days_with_sums",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project} / {self.nodepool.name} on day {self.day}"


def validate_prometheus_url(value: str) -> None:
    """An http(s) base URL with nothing that must stay secret or that the collector adds."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Use an http:// or https:// URL.", code="scheme")
    if "@" in parts.netloc:
        raise ValidationError(
            "Put no user name or password in the URL: it would be stored in clear. Name an "
            "environment variable that holds a bearer token instead.",
            code="credentials",
        )
    if parts.query or parts.fragment:
        raise ValidationError(
            "Give the base URL only, without ? or #: the collector adds /api/v1/... to it.",
            code="query",
        )


validate_token_env = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*\Z",
    "Enter the name of an environment variable, such as PROMETHEUS_TOKEN (capital letters, "
    "digits and underscores, not starting with a digit), not the token itself.",
)


def validate_absolute_path(value: str) -> None:
    if not os.path.isabs(value):
        raise ValidationError(
            "Give an absolute path: the collector does not run in this directory.",
            code="relative",
        )


def validate_divides_hour(value: int) -> None:
    if 0 < value <= HOUR_SECONDS and HOUR_SECONDS % value:  # others: the range's message
        raise ValidationError(
            "3600 must be a multiple of the scrape interval (such as 15, 30, 60 or 120 seconds), "
            "so that every hour holds the same whole number of scrapes.",
            code="divides_hour",
        )


def validate_whole_hour(value: datetime) -> None:
    moment = value.astimezone(UTC) if timezone.is_aware(value) else value
    if moment.minute or moment.second or moment.microsecond:
        raise ValidationError(
            "Must be a whole UTC hour, such as 2026-03-01 10:00 UTC.", code="whole_hour"
        )


_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_LABEL_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"


def validate_label_key(value: str) -> None:
    """A Kubernetes label key: an optional DNS subdomain and '/', then a name of up to 63."""
    prefix, slash, name = value.rpartition("/")
    valid_name = len(name) <= 63 and re.fullmatch(_LABEL_NAME, name)
    valid_prefix = not slash or (
        len(prefix) <= 253 and re.fullmatch(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*", prefix)
    )
    if not (valid_name and valid_prefix):
        raise ValidationError(
            "Enter a Kubernetes label key such as runai/queue or team: an optional DNS prefix "
            "and '/', then up to 63 letters, digits, '-', '_' or '.', starting and ending with a "
            "letter or digit.",
            code="label_key",
        )


validate_namespace_prefix = RegexValidator(
    r"^(?:[a-z0-9][-a-z0-9]*)?\Z",
    "Use lowercase letters, digits and '-', starting with a letter or digit, as namespace "
    "names do.",
)


def split_namespaces(text: str) -> list[str]:
    """The names of a comma-separated list, without blanks."""
    return [name.strip() for name in text.split(",") if name.strip()]


def validate_namespaces(value: str) -> None:
    bad = [name for name in split_namespaces(value) if not re.fullmatch(_DNS_LABEL, name)]
    if bad:
        raise ValidationError(
            "Not a namespace name: %(names)s. Namespaces are lowercase letters, digits and '-', "
            "starting and ending with a letter or digit; separate them with commas.",
            code="namespace",
            params={"names": ", ".join(bad)},
        )


def a_week_ago() -> datetime:
    """Midnight UTC seven days before today: a week of history, well within the 15 days that
    Prometheus keeps by default."""
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=7)


class TokenMissing(ImproperlyConfigured):
    """A source names a token variable that this process's environment does not have."""


class UsageSourceQuerySet(models.QuerySet):
    def collected_until(self) -> datetime | None:
        """Up to when all of these sources have collected: the earliest of their
        collected-until (a source never collected counts from its first hour); None when there
        are no sources, as for usage that comes only from files."""
        moments = [until or start for start, until in self.values_list("start", "collected_until")]
        return min(moments, default=None)


class UsageSource(models.Model):
    """One cluster's Prometheus, from which a tenant's usage is collected hour by hour."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_sources")
    name = models.CharField(
        max_length=100,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z",
                "Use letters, digits, '.', '-' and '_', starting with a letter or digit.",
            )
        ],
        help_text="Unique within the tenant, ignoring case; e.g. east-prometheus.",
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="usage_sources")
    url = models.URLField(
        "base URL",
        max_length=500,
        validators=[validate_prometheus_url],
        help_text=(
            "Prometheus's base URL, e.g. https://prometheus.example:9090; a host name needs its "
            "domain (inside the cluster: http://prometheus.monitoring.svc:9090)."
        ),
    )
    token_env = models.CharField(
        "token variable",
        max_length=100,
        blank=True,
        validators=[validate_token_env],
        help_text=(
            "The name of the environment variable that holds Prometheus's bearer token where "
            "the collector runs; the token itself is never stored. Empty: no token."
        ),
    )
    ca_file = models.CharField(
        "CA file",
        max_length=500,
        blank=True,
        validators=[validate_absolute_path],
        help_text=(
            "The absolute path, where the collector runs, of a PEM file with the certificate "
            "authority of Prometheus's certificate (https only). Empty: the system's CAs."
        ),
    )
    scrape_interval_seconds = models.PositiveIntegerField(
        "scrape interval (seconds)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(HOUR_SECONDS), validate_divides_hour],
        help_text=(
            "How often Prometheus scrapes the exporters, 1 to 3600 seconds. 3600 must be a "
            "multiple of it, so that each hour holds a whole number of scrapes: the collector "
            "counts scrapes to know how long a pod ran."
        ),
    )
    lag_seconds = models.PositiveIntegerField(
        "lag (seconds)",
        default=300,
        validators=[MaxValueValidator(DAY_SECONDS)],
        help_text=(
            "An hour is collected once it ended this long ago, so that Prometheus has every "
            "scrape of it."
        ),
    )
    project_label = models.CharField(
        max_length=317,  # the longest label key: a 253-character prefix, '/', a 63-character name
        default="runai/queue",
        validators=[validate_label_key],
        help_text=(
            "The pod or namespace label that names a pod's project; without it, the namespace's "
            "name less the prefix below."
        ),
    )
    namespace_prefix = models.CharField(
        max_length=62,
        blank=True,
        default="runai-",
        validators=[validate_namespace_prefix],
        help_text="Taken off a namespace's name to give its project when no label names it.",
    )
    department_label = models.CharField(
        max_length=317,
        blank=True,
        validators=[validate_label_key],
        help_text=(
            "The namespace label that names the department. Empty: the project's department in "
            "the cluster if it has one, else default."
        ),
    )
    nodepool_label = models.CharField(
        "node pool label",
        max_length=317,
        blank=True,
        validators=[validate_label_key],
        help_text="The node label that names the node pool. Empty: every node is in default.",
    )
    exclude_namespaces = models.CharField(
        max_length=1000,
        blank=True,
        default="runai-reservation",
        validators=[validate_namespaces],
        help_text=(
            "Comma-separated namespaces whose pods are nobody's usage, such as Run:ai's "
            "reservation pods that hold GPUs for fractions."
        ),
    )
    start = models.DateTimeField(
        "first hour",
        default=a_week_ago,
        validators=[validate_whole_hour],
        help_text="The first hour to collect, a whole UTC hour.",
    )
    enabled = models.BooleanField(
        default=True, help_text="Collected on schedule; a disabled source keeps its usage."
    )
    # What the collector reports back.
    collected_until = models.DateTimeField(
        null=True,
        blank=True,
        validators=[validate_whole_hour],
        help_text=(
            "Every hour from the first hour up to, not including, this one is collected; empty "
            "until the first run."
        ),
    )
    last_success_at = models.DateTimeField("last success", null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField("last error at", null=True, blank=True)

    objects = UsageSourceQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            # Enforced by the database, as for reports, so that two simultaneous creations
            # cannot both win.
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                name="usage_source_name_unique_in_tenant_ignoring_case",
                violation_error_message=(
                    "A usage source with this name already exists in the tenant (names are "
                    "compared ignoring case)."
                ),
            ),
            models.UniqueConstraint(
                fields=["cluster"],
                name="usage_source_one_per_cluster",
                violation_error_code="unique",  # so that full_clean() reports it on the cluster
                violation_error_message=(
                    "This cluster has a usage source already: two would write the same pods' usage."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.cluster_id and self.tenant_id and self.cluster.tenant_id != self.tenant_id:
            errors["cluster"] = "The cluster belongs to another tenant."
        if self.ca_file and urlsplit(self.url).scheme.lower() != "https":
            errors["ca_file"] = "A CA file is used only with an https:// URL."
        if errors:
            raise ValidationError(errors)

    @property
    def excluded_namespaces(self) -> list[str]:
        return split_namespaces(self.exclude_namespaces)

    def token(self) -> str | None:
        """The bearer token, read from the environment at each call; None when the source
        needs none."""
        if not self.token_env:
            return None
        token = os.environ.get(self.token_env, "")
        if not token:
            raise TokenMissing(
                f"Usage source {self.name!r} reads its Prometheus token from the environment "
                f"variable {self.token_env}, which is not set (or empty) in this process. Set it "
                "where the collector runs, or clear the source's token variable."
            )
        return token


class Resource(models.TextChoices):
    """What a price charges for, and its unit."""

    GPU = "gpu", "GPU (per GPU-hour)"
    CPU = "cpu", "CPU (per core-hour)"
    MEMORY = "memory", "CPU memory (per GiB-hour)"


validate_currency = RegexValidator(
    r"^[A-Z]{3}\Z", "Enter an ISO 4217 currency code: three capital letters, such as EUR or USD."
)


class Price(models.Model):
    """What a tenant charges for one resource from a moment on, until its next price: per
    GPU-hour, per CPU core-hour or per GiB-hour of CPU memory allocated, in a currency. A price
    of a node pool holds there; one without a node pool is the tenant's default, for the node
    pools with no price of their own at that moment."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="prices")
    resource = models.CharField(max_length=10, choices=Resource.choices)
    nodepool = models.ForeignKey(
        NodePool,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="prices",
        verbose_name="node pool",
        help_text="Leave empty for the tenant's default price.",
    )
    amount = models.DecimalField(
        max_digits=16, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(max_length=3, validators=[validate_currency])
    valid_from = models.DateTimeField("holds from")

    class Meta:
        ordering = ["tenant", "resource", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "resource", "nodepool", "valid_from"],
                condition=Q(nodepool__isnull=False),
                name="price_once_per_pool_and_moment",
                violation_error_message="This node pool has a price for this resource from "
                "this moment already.",
            ),
            models.UniqueConstraint(
                fields=["tenant", "resource", "valid_from"],
                condition=Q(nodepool__isnull=True),
                name="default_price_once_per_moment",
                violation_error_message="The tenant has a default price for this resource "
                "from this moment already.",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="price_not_negative"),
        ]

    def __str__(self) -> str:
        where = f" in {self.nodepool}" if self.nodepool_id else ""
        unit = Resource(self.resource).label.split("(")[1].rstrip(")")
        return (
            f"{self.amount} {self.currency} {unit}{where} from {self.valid_from:%Y-%m-%d %H:%M} UTC"
        )

    def clean(self) -> None:
        if (
            self.nodepool_id
            and self.tenant_id
            and self.nodepool.cluster.tenant_id != self.tenant_id
        ):
            raise ValidationError({"nodepool": "This node pool belongs to another tenant."})
