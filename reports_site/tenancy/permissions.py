"""The one place that answers "may this subject do that, there?".

A subject is a User or a ServiceAccount. It holds access rules: role in scope, where the scope is
its tenant, a cluster, a department or a project, and covers everything below it (a cluster also
covers its node pools). A subject only ever acts inside its own tenant; an inactive subject, or a
user without a tenant (an operator), holds nothing here.
"""

from __future__ import annotations

from django.db.models import Exists, Q, QuerySet

from .models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    ScopeType,
    ServiceAccount,
    Tenant,
    User,
    tenant_id_of,
)

Subject = User | ServiceAccount
OrgUnit = Tenant | Cluster | NodePool | Department | Project


def subject_tenant_id(subject: Subject | None) -> int | None:
    """The tenant the subject acts in, or None when it may act nowhere."""
    if subject is None or not getattr(subject, "is_active", False):
        return None
    return getattr(subject, "tenant_id", None)


def rules_granting(subject: Subject | None, resource: str, action: str) -> QuerySet[AccessRule]:
    """The subject's rules whose role allows `action` on `resource`, in any scope."""
    if subject_tenant_id(subject) is None:
        return AccessRule.objects.none()
    return AccessRule.objects.for_subject(subject).granting(resource, action)


def holds_at_tenant_scope(subject: Subject | None, resource: str, action: str) -> bool:
    """Does the subject hold `resource:action` throughout its tenant (a rule at tenant scope)?"""
    return rules_granting(subject, resource, action).filter(scope_type=ScopeType.TENANT).exists()


def has_permission(subject: Subject | None, resource: str, action: str, scope: OrgUnit) -> bool:
    """May the subject do `action` on `resource` in `scope` (a tenant or an org unit)?"""
    tenant_id = subject_tenant_id(subject)
    if tenant_id is None or tenant_id_of(scope) != tenant_id:
        return False
    return rules_granting(subject, resource, action).filter(_rules_covering(scope)).exists()


def restrict(queryset: QuerySet, subject: Subject | None, resource: str, action: str) -> QuerySet:
    """Narrow a queryset of org units to those of the subject's tenant that its rules granting
    `resource:action` cover. Runs as one query, with the rules as subqueries."""
    tenant_id = subject_tenant_id(subject)
    if tenant_id is None:
        return queryset.none()
    rules = rules_granting(subject, resource, action)
    return queryset.for_tenant(tenant_id).filter(_units_covered(queryset.model, rules))


def readable_projects(subject: Subject | None) -> QuerySet[Project]:
    """The projects the subject may read; what a report it creates may contain."""
    return Project.objects.readable_by(subject)


def _units_covered(model: type, rules: QuerySet[AccessRule]) -> Q:
    """A filter on `model` that keeps the units some rule in `rules` covers (tenant check apart)."""
    covered = Q(Exists(rules.filter(scope_type=ScopeType.TENANT)))
    clusters = rules.filter(scope_type=ScopeType.CLUSTER).values("cluster_id")
    departments = rules.filter(scope_type=ScopeType.DEPARTMENT).values("department_id")
    projects = rules.filter(scope_type=ScopeType.PROJECT).values("project_id")
    if model is Cluster:
        covered |= Q(pk__in=clusters)
    elif model is NodePool:
        covered |= Q(cluster_id__in=clusters)
    elif model is Department:
        covered |= Q(cluster_id__in=clusters) | Q(pk__in=departments)
    elif model is Project:
        covered |= Q(cluster_id__in=clusters) | Q(department_id__in=departments)
        covered |= Q(pk__in=projects)
    else:
        raise TypeError(f"{model.__name__} is not an org unit")
    return covered


def _rules_covering(scope: OrgUnit) -> Q:
    """A filter on AccessRule that keeps the rules whose scope contains `scope`."""
    covering = Q(scope_type=ScopeType.TENANT)
    if isinstance(scope, Tenant):
        return covering
    if isinstance(scope, Cluster):
        return covering | Q(scope_type=ScopeType.CLUSTER, cluster_id=scope.pk)
    covering |= Q(scope_type=ScopeType.CLUSTER, cluster_id=scope.cluster_id)
    if isinstance(scope, NodePool):
        return covering
    if isinstance(scope, Department):
        return covering | Q(scope_type=ScopeType.DEPARTMENT, department_id=scope.pk)
    if isinstance(scope, Project):
        return (
            covering
            | Q(scope_type=ScopeType.DEPARTMENT, department_id=scope.department_id)
            | Q(scope_type=ScopeType.PROJECT, project_id=scope.pk)
        )
    raise TypeError(f"{type(scope).__name__} is not an org unit")
