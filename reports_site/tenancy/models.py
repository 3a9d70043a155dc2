"""Tenants, their org tree (cluster > department > project, cluster > node pool), the people and
machines that act in a tenant, and the access rules that say what each of them may do where."""

from __future__ import annotations

import math
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, Q, Value
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone


class Tenant(models.Model):
    """An organisation. Its integer id is the API's `tenantId`."""

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


def subject_tenant_id(subject: Subject | None) -> int | None:
    """The tenant a subject (a user or a service account) acts in, or None when it may act
    nowhere: none given, inactive, or a user without a tenant (an operator)."""
    if subject is None or not getattr(subject, "is_active", False):
        return None
    return getattr(subject, "tenant_id", None)


class OrgUnitQuerySet(models.QuerySet):
    """Scoping shared by every org unit: by tenant, and by what a subject may do. Each kind of
    unit says which of them a set of access rules covers (`covered_by`)."""

    tenant_path = "cluster__tenant"
    resource = ""

    def for_tenant(self, tenant: Tenant) -> OrgUnitQuerySet:
        return self.filter(**{self.tenant_path: tenant})

    def permitted(self, subject: Subject | None, action: str) -> OrgUnitQuerySet:
        """The units of the subject's tenant on which it may do `action` (`<their resource
        type>:<action>`): one query, with the rules as subqueries."""
        tenant_id = subject_tenant_id(subject)
        if tenant_id is None:
            return self.none()
        rules = AccessRule.objects.granted_to(subject, self.resource, action)
        return self.for_tenant(tenant_id).filter(self.covered_by(rules))

    def covered_by(self, rules: AccessRuleQuerySet) -> Q:
        """A filter that keeps the units these rules cover (their tenant apart): a rule at
        tenant scope covers them all; each kind of unit adds the scopes above it."""
        return Q(Exists(rules.filter(scope_type=ScopeType.TENANT)))


def _scoped(rules: AccessRuleQuerySet, scope: str) -> AccessRuleQuerySet:
    """The ids of the units these rules name at `scope` (cluster, department or project)."""
    return rules.filter(scope_type=scope).values(f"{scope}_id")


class ClusterQuerySet(OrgUnitQuerySet):
    tenant_path = "tenant"
    resource = "cluster"

    def covered_by(self, rules: AccessRuleQuerySet) -> Q:
        return super().covered_by(rules) | Q(pk__in=_scoped(rules, ScopeType.CLUSTER))


class NodePoolQuerySet(OrgUnitQuerySet):
    resource = "nodepools"

    def covered_by(self, rules: AccessRuleQuerySet) -> Q:
        return super().covered_by(rules) | Q(cluster_id__in=_scoped(rules, ScopeType.CLUSTER))


class DepartmentQuerySet(OrgUnitQuerySet):
    resource = "department"

    def covered_by(self, rules: AccessRuleQuerySet) -> Q:
        return (
            super().covered_by(rules)
            | Q(cluster_id__in=_scoped(rules, ScopeType.CLUSTER))
            | Q(pk__in=_scoped(rules, ScopeType.DEPARTMENT))
        )


class ProjectQuerySet(OrgUnitQuerySet):
    resource = "project"

    def covered_by(self, rules: AccessRuleQuerySet) -> Q:
        return (
            super().covered_by(rules)
            | Q(cluster_id__in=_scoped(rules, ScopeType.CLUSTER))
            | Q(department_id__in=_scoped(rules, ScopeType.DEPARTMENT))
            | Q(pk__in=_scoped(rules, ScopeType.PROJECT))
        )


class Cluster(models.Model):
    """A Kubernetes cluster of a tenant; `uuid` is the API's `clusterId`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clusters")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, verbose_name="UUID")
    name = models.CharField(max_length=200)

    objects = ClusterQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="cluster_name_unique_in_tenant")
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        adding = self._state.adding
        super().save(*args, **kwargs)
        # A cluster always has its `default` node pool, however it is created (the manager, a
        # form, get_or_create), so this invariant lives with the model.
        if adding:
            self.ensure_default_nodepool()

    def ensure_default_nodepool(self) -> NodePool:
        pool, _ = NodePool.objects.get_or_create(cluster=self, name=NodePool.DEFAULT)
        return pool


class NodePool(models.Model):
    DEFAULT = "default"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodepools")
    name = models.CharField(max_length=200)

    objects = NodePoolQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "name"]
        verbose_name = "node pool"
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], name="nodepool_name_unique_in_cluster"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class Department(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="departments")
    name = models.CharField(max_length=200)

    objects = DepartmentQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], name="department_name_unique_in_cluster"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"


class Project(models.Model):
    """A project belongs to one department; `cluster` repeats the department's cluster so that the
    database can keep project names unique per cluster."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="projects")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "name"], name="project_name_unique_in_cluster"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"

    def clean(self) -> None:
        if self.department_id and self.cluster_id and self.department.cluster_id != self.cluster_id:
            raise ValidationError(
                {"department": "The department must belong to the project's cluster."}
            )


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email__iexact=email)

    def create_user(self, email: str, password: str | None = None, **fields) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, logged in by e-mail. Analysts belong to one tenant; operators (staff) may have none
    and work in the admin only."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="users", null=True, blank=True
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Operators: may log in to the admin site."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ignoring_case")
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def _new_client_id() -> str:
    return secrets.token_hex(16)


class ServiceAccountQuerySet(models.QuerySet):
    def active(self) -> ServiceAccountQuerySet:
        return self.filter(is_active=True)

    def authenticate(self, client_id: str, secret: str) -> ServiceAccount | None:
        """The active account with this client ID and secret, or None."""
        account = self.active().filter(client_id=client_id).first()
        if account is None:
            make_password(secret)  # as long as a wrong secret takes: no hint that the ID is unknown
            return None
        return account if account.check_secret(secret) else None


class ServiceAccount(models.Model):
    """A machine identity of a tenant; it authenticates to the API with client id and secret.
    Only a hash of the secret is stored: the secret is shown once, when it is made."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="service_accounts")
    name = models.CharField(max_length=200)
    client_id = models.CharField(
        max_length=64, unique=True, default=_new_client_id, editable=False, verbose_name="client ID"
    )
    secret_hash = models.CharField(max_length=256, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ServiceAccountQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="service_account_name_unique_in_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"sa:{self.name}"

    @property
    def is_authenticated(self) -> bool:
        # As for a User: a service account in hand is one that proved who it is.
        return True

    def set_new_secret(self) -> str:
        """Give the account a fresh secret and return it; the caller shows it once."""
        secret = secrets.token_urlsafe(32)
        self.secret_hash = make_password(secret)
        return secret

    def check_secret(self, secret: str) -> bool:
        return bool(self.secret_hash) and check_password(secret, self.secret_hash)


# Who acts: a person or a service account.
Subject = User | ServiceAccount


class TokenFailureQuerySet(models.QuerySet):
    def client_id_wait(self, client_id: str) -> int:
        """How long the client ID must wait before its next token request (0: not at all)."""
        return self.wait_seconds(
            TokenFailure.Kind.CLIENT_ID, client_id, settings.API_TOKEN_MAX_FAILURES
        )

    def record_failure(self, client_id: str, address: str) -> int:
        """Count a failed token request against its client ID and its address; return how long
        the address must wait: 0 unless it had had its tries before this one."""
        wait = self.wait_seconds(
            TokenFailure.Kind.ADDRESS, address, settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS
        )
        self.record(TokenFailure.Kind.CLIENT_ID, client_id)
        self.record(TokenFailure.Kind.ADDRESS, address)
        return wait

    def wait_seconds(self, kind: str, key: str, limit: int) -> int:
        """How long the key must wait before its next try: 0 unless it has had `limit` failed
        token requests in its current window, else the seconds left of that window."""
        now = timezone.now()
        window = timedelta(seconds=settings.API_TOKEN_FAILURE_WINDOW_SECONDS)
        row = self.filter(
            kind=kind, key=key[: TokenFailure.KEY_LENGTH], window_start__gt=now - window
        ).first()
        if row is None or row.failures < limit:
            return 0
        return max(1, math.ceil((row.window_start + window - now).total_seconds()))

    def record(self, kind: str, key: str) -> None:
        """Count one failed token request for the key, in its window or in a new one if that has
        ended. Each step is a single conditional statement, so processes never lose a count."""
        now = timezone.now()
        cutoff = now - timedelta(seconds=settings.API_TOKEN_FAILURE_WINDOW_SECONDS)
        self.filter(window_start__lte=cutoff).delete()  # every key's ended windows
        mine = self.filter(kind=kind, key=key[: TokenFailure.KEY_LENGTH])
        while True:
            if mine.filter(window_start__gt=cutoff).update(failures=F("failures") + 1):
                return
            # The window ended since the prune: start a new one, unless another process just did.
            if mine.filter(window_start__lte=cutoff).update(failures=1, window_start=now):
                return
            try:
                with transaction.atomic():
                    mine.create(kind=kind, key=key[: TokenFailure.KEY_LENGTH], window_start=now)
                return
            except IntegrityError:
                continue  # another process counted the first failure: count on top of it


class TokenFailure(models.Model):
    """Failed token requests of one client ID or one address in its current window, kept in the
    database so that every web process counts them together (spec 5, POST /api/v1/token)."""

    class Kind(models.TextChoices):
        CLIENT_ID = "client_id", "client ID"
        ADDRESS = "address", "address"

    KEY_LENGTH = 255  # longer client IDs are no one's, so sharing a count among them does no harm

    kind = models.CharField(max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=KEY_LENGTH)
    failures = models.PositiveIntegerField(default=1)
    window_start = models.DateTimeField(db_index=True)

    objects = TokenFailureQuerySet.as_manager()

    class Meta:
        ordering = ["-window_start"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="token_failure_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}: {self.failures}"


class Resource(models.TextChoices):
    TENANT = "tenant", "Tenant"
    CLUSTER = "cluster", "Cluster"
    NODEPOOLS = "nodepools", "Node pools"
    DEPARTMENT = "department", "Department"
    PROJECT = "project", "Project"
    USERS = "users", "Users"
    SERVICE_ACCOUNT = "service-account", "Service account"
    ACCESS_RULES = "access_rules", "Access rules"
    DASHBOARDS_CONSUMPTION = "dashboards-consumption", "Consumption dashboards"


class Action(models.TextChoices):
    CREATE = "create", "Create"
    READ = "read", "Read"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class Role(models.Model):
    """A named set of permissions, such as "L1 researcher"."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def action_field(action: str) -> str:
    """The RolePermission field that holds one action; unknown actions are a programming error."""
    if action not in Action.values:
        raise ValueError(f"Unknown action {action!r}; expected one of {Action.values}")
    return f"can_{action}"


class RolePermission(models.Model):
    """The actions a role allows on one resource type."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    resource = models.CharField(max_length=40, choices=Resource.choices)
    can_create = models.BooleanField("create", default=False)
    can_read = models.BooleanField("read", default=False)
    can_update = models.BooleanField("update", default=False)
    can_delete = models.BooleanField("delete", default=False)

    class Meta:
        ordering = ["role", "resource"]
        constraints = [
            models.UniqueConstraint(fields=["role", "resource"], name="one_permission_per_resource")
        ]

    def __str__(self) -> str:
        return f"{self.resource}: {' '.join(self.actions) or 'nothing'}"

    @property
    def actions(self) -> list[str]:
        return [action for action in Action.values if getattr(self, action_field(action))]


class ScopeType(models.TextChoices):
    TENANT = "tenant", "Tenant"
    CLUSTER = "cluster", "Cluster"
    DEPARTMENT = "department", "Department"
    PROJECT = "project", "Project"


class AccessRuleQuerySet(models.QuerySet):
    def for_subject(self, subject: Subject | None) -> AccessRuleQuerySet:
        """The rules of a user or a service account, within its own tenant."""
        if isinstance(subject, ServiceAccount):
            return self.filter(service_account=subject, tenant_id=subject.tenant_id)
        if isinstance(subject, User) and subject.pk:
            return self.filter(user=subject, tenant_id=subject.tenant_id)
        return self.none()

    def granted_to(self, subject: Subject | None, resource: str, action: str) -> AccessRuleQuerySet:
        """The subject's rules whose role allows `action` on `resource`, in any scope; none
        for a subject that may act nowhere."""
        if subject_tenant_id(subject) is None:
            return self.none()
        return self.for_subject(subject).granting(resource, action)

    def granting(self, resource: str, action: str) -> AccessRuleQuerySet:
        return self.filter(
            role__permissions__resource=resource,
            **{f"role__permissions__{action_field(action)}": True},
        )


class AccessRule(models.Model):
    """Subject (a user or a service account) has role in scope; the scope covers everything below
    it. Exactly one subject is set, and exactly the org unit that the scope type names."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="access_rules")
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="access_rules"
    )
    service_account = models.ForeignKey(
        ServiceAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="access_rules"
    )
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="access_rules")
    scope_type = models.CharField(max_length=20, choices=ScopeType.choices)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, null=True, blank=True)
    department = models.ForeignKey(Department, on_delete=models.CASCADE, null=True, blank=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = AccessRuleQuerySet.as_manager()

    class Meta:
        ordering = ["tenant", "scope_type", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, service_account__isnull=True)
                    | Q(user__isnull=True, service_account__isnull=False)
                ),
                name="access_rule_has_one_subject",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        scope_type=ScopeType.TENANT,
                        cluster__isnull=True,
                        department__isnull=True,
                        project__isnull=True,
                    )
                    | Q(
                        scope_type=ScopeType.CLUSTER,
                        cluster__isnull=False,
                        department__isnull=True,
                        project__isnull=True,
                    )
                    | Q(
                        scope_type=ScopeType.DEPARTMENT,
                        cluster__isnull=True,
                        department__isnull=False,
                        project__isnull=True,
                    )
                    | Q(
                        scope_type=ScopeType.PROJECT,
                        cluster__isnull=True,
                        department__isnull=True,
                        project__isnull=False,
                    )
                ),
                name="access_rule_scope_matches_type",
            ),
            # One rule per subject, role and scope. Absent ids count as 0 so that the same rule
            # cannot be stored twice on any database (NULLs would otherwise all be distinct).
            models.UniqueConstraint(
                *(
                    Coalesce(field, Value(0), output_field=models.BigIntegerField())
                    for field in ["user", "service_account", "cluster", "department", "project"]
                ),
                "role",
                "scope_type",
                name="access_rule_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} is {self.role} in {self.scope_label}"

    @property
    def subject(self) -> User | ServiceAccount | None:
        return self.user or self.service_account

    @property
    def scope_unit(self) -> Tenant | Cluster | Department | Project | None:
        return {
            ScopeType.TENANT: self.tenant,
            ScopeType.CLUSTER: self.cluster,
            ScopeType.DEPARTMENT: self.department,
            ScopeType.PROJECT: self.project,
        }.get(self.scope_type)

    @property
    def scope_label(self) -> str:
        unit = self.scope_unit
        if self.scope_type == ScopeType.TENANT:
            return f"tenant {unit.slug}" if unit else "tenant"
        return f"{self.scope_type} {unit}" if unit else self.scope_type

    def clean(self) -> None:
        errors = {}
        subject = self.subject
        if subject is None or (self.user_id and self.service_account_id):
            errors["user"] = "Choose either a user or a service account."
        elif self.tenant_id and subject.tenant_id != self.tenant_id:
            errors["tenant"] = "The subject belongs to another tenant."
        expected = {
            ScopeType.CLUSTER: "cluster",
            ScopeType.DEPARTMENT: "department",
            ScopeType.PROJECT: "project",
        }.get(self.scope_type)
        for field in ("cluster", "department", "project"):
            unit = getattr(self, field) if getattr(self, f"{field}_id") else None
            if field == expected and unit is None:
                errors[field] = f"A {field} scope needs a {field}."
            elif field != expected and unit is not None:
                errors[field] = f"Leave this empty for a {self.scope_type} scope."
            elif unit is not None and self.tenant_id and not _in_tenant(unit, self.tenant_id):
                errors[field] = f"The {field} belongs to another tenant."
        if errors:
            raise ValidationError(errors)


def _in_tenant(unit: Cluster | Department | Project, tenant_id: int) -> bool:
    return type(unit).objects.for_tenant(tenant_id).filter(pk=unit.pk).exists()
