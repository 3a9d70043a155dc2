"""Scopes written as text, such as `project:east/vision`, turned into a tenant's org unit."""

from __future__ import annotations

from typing import NamedTuple

from .models import Cluster, Department, Project, ScopeType, Tenant

SCOPE_FORMS = ("tenant", "cluster:NAME", "department:CLUSTER/NAME", "project:CLUSTER/NAME")


class Scope(NamedTuple):
    """A scope type and the unit it names (the tenant itself for a tenant scope)."""

    type: ScopeType
    unit: Tenant | Cluster | Department | Project

    @property
    def rule_fields(self) -> dict:
        """The AccessRule fields that hold this scope."""
        if self.type == ScopeType.TENANT:
            return {"scope_type": self.type}
        return {"scope_type": self.type, self.type.value: self.unit}


def parse_scope(text: str, tenant: Tenant) -> Scope:
    """The scope that `text` names within `tenant`; ValueError says what is wrong with it."""
    kind, colon, path = text.partition(":")
    if kind == ScopeType.TENANT and not colon:
        return Scope(ScopeType.TENANT, tenant)
    if not colon or kind not in (ScopeType.CLUSTER, ScopeType.DEPARTMENT, ScopeType.PROJECT):
        raise ValueError(f"Malformed scope {text!r}; expected one of: {', '.join(SCOPE_FORMS)}.")
    if kind == ScopeType.CLUSTER:
        if not path or "/" in path:
            raise ValueError(f"Malformed scope {text!r}; a cluster scope is cluster:NAME.")
        return Scope(ScopeType.CLUSTER, _cluster(tenant, path))
    # Split at the first slash: cluster names come from operators and never need one.
    cluster_name, slash, name = path.partition("/")
    if not cluster_name or not slash or not name:
        raise ValueError(f"Malformed scope {text!r}; a {kind} scope is {kind}:CLUSTER/NAME.")
    cluster = _cluster(tenant, cluster_name)
    model = Department if kind == ScopeType.DEPARTMENT else Project
    try:
        unit = model.objects.get(cluster=cluster, name=name)
    except model.DoesNotExist:
        raise ValueError(
            f"{model._meta.verbose_name.capitalize()} {name!r} not found in cluster "
            f"{cluster.name} of tenant {tenant.slug}."
        ) from None
    return Scope(ScopeType(kind), unit)


def _cluster(tenant: Tenant, name: str) -> Cluster:
    # Looked up within the tenant only: another tenant's cluster of that name is "not found".
    try:
        return Cluster.objects.for_tenant(tenant).get(name=name)
    except Cluster.DoesNotExist:
        raise ValueError(f"Cluster {name!r} not found in tenant {tenant.slug}.") from None
