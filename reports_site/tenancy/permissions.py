"""The one place that answers "may this subject do that, there?".

A subject is a User or a ServiceAccount. It holds access rules: role in scope, where the scope is
its tenant, a cluster, a department or a project, and covers everything below it (a cluster also
covers its node pools). A subject only ever acts inside its own tenant; an inactive subject, or a
user without a tenant (an operator), holds nothing here.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    ScopeType,
    Subject,
    Tenant,
    subject_tenant_id,
    tenant_id_of,
)

OrgUnit = Tenant | Cluster | NodePool | Department | Project


def rules_granting(subject: Subject | None, resource: str, action: str) -> QuerySet[AccessRule]:
    """The subject's rules whose role allows `action` on `resource`, in any scope."""
    return AccessRule.objects.granted_to(subject, resource, action)


def holds_at_tenant_scope(subject: Subject | None, resource: str, action: str) -> bool:
    """Does the subject hold `resource:action` throughout its tenant (a rule at tenant scope)?"""
    return rules_granting(subject, resource, action).filter(scope_type=ScopeType.TENANT).exists()


def has_permission(subject: Subject | None, resource: str, action: str, scope: OrgUnit) -> bool:
    """May the subject do `action` on `resource` in `scope` (a tenant or an org unit)?"""
    tenant_id = subject_tenant_id(subject)
    if tenant_id is None or tenant_id_of(scope) != tenant_id:
        return False
    return rules_granting(subject, resource, action).filter(_rules_covering(scope)).exists()


def readable_projects(subject: Subject | None) -> QuerySet[Project]:
    """The projects the subject may read; what a report it creates may contain."""
    return Project.objects.readable_by(subject)


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
