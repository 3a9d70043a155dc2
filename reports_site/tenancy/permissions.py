"""What a subject holds: its access rules, and whether any of them reaches its whole tenant.

A subject is a User or a ServiceAccount. It holds access rules: role in scope, where the scope is
its tenant, a cluster, a department or a project, and covers everything below it (a cluster also
covers its node pools). A subject only ever acts inside its own tenant; an inactive subject, or a
user without a tenant (an operator), holds nothing here. What the rules cover is each org unit's
QuerySet's to say (`Project.objects.permitted(subject, "read")`), and a report's
(`Report.objects.permitted(subject, "delete")`).
"""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AccessRule, ScopeType, Subject, subject_tenant_id

__all__ = ["holds_at_tenant_scope", "rules_granting", "subject_tenant_id"]


def rules_granting(subject: Subject | None, resource: str, action: str) -> QuerySet[AccessRule]:
    """The subject's rules whose role allows `action` on `resource`, in any scope."""
    return AccessRule.objects.granted_to(subject, resource, action)


def holds_at_tenant_scope(subject: Subject | None, resource: str, action: str) -> bool:
    """Does the subject hold `resource:action` throughout its tenant (a rule at tenant scope)?"""
    return rules_granting(subject, resource, action).filter(scope_type=ScopeType.TENANT).exists()
