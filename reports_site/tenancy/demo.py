"""The demo org: two tenants, their org trees and users of several roles. Safe to run again."""

import uuid
from dataclasses import dataclass

from django.db import transaction

from .models import AccessRule, Cluster, Department, NodePool, Project, Role, Tenant, User
from .scopes import parse_scope

DEMO_PASSWORD = "demo-reports-2026"
_UUID_NAMESPACE = uuid.UUID("6f1c2d4e-8a0b-4c7d-9e3f-5a6b7c8d9e0f")

# tenant slug -> (name, {cluster: ({node pools}, {department: [projects]})})
DEMO_ORGS = {
    "demo": (
        "Demo Corp",
        {
            "gpu-east": (["a100"], {"research": ["vision", "nlp"], "engineering": ["recsys"]}),
            "gpu-west": (["h100"], {"research": ["speech"], "platform": ["infra"]}),
        },
    ),
    "other": ("Other Labs", {"lab": ([], {"ai": ["robotics"]})}),
}

# e-mail -> (tenant slug, full name, role, scope as `manage.py grant --scope` takes it)
DEMO_USERS = {
    "admin@demo.example": ("demo", "Ada Admin", "System administrator", "tenant"),
    "viewer@demo.example": ("demo", "Victor Viewer", "Viewer", "tenant"),
    "dept-admin@demo.example": (
        "demo",
        "Dora Department",
        "Department administrator",
        "department:gpu-east/research",
    ),
    "researcher@demo.example": (
        "demo",
        "Remy Researcher",
        "L1 researcher",
        "project:gpu-east/vision",
    ),
    "viewer@other.example": ("other", "Olga Other", "Viewer", "tenant"),
}
OPERATOR_EMAIL = "ops@demo.example"


@dataclass
class DemoLogin:
    email: str
    role: str


@transaction.atomic
def seed_demo_org() -> None:
    """Create (or bring back) the demo tenants, org trees and users (`demo_logins` says who
    they are)."""
    tenants = {
        slug: _seed_tree(slug, name, clusters) for slug, (name, clusters) in DEMO_ORGS.items()
    }
    for email, (slug, full_name, role_name, scope) in DEMO_USERS.items():
        user = _seed_user(email, full_name, tenant=tenants[slug])
        _seed_rule(user, Role.objects.get(name=role_name), tenants[slug], scope)
    _seed_user(OPERATOR_EMAIL, "Otto Operator", tenant=None, is_staff=True, is_superuser=True)


def demo_logins() -> list[DemoLogin]:
    """Who to log in as, and what each sees (read from the definitions above, not the database)."""
    logins = []
    for email, (slug, _, role_name, scope) in DEMO_USERS.items():
        where = "the whole tenant" if scope == "tenant" else scope.replace(":", " ")
        logins.append(DemoLogin(email, f"{role_name}, {where} ({DEMO_ORGS[slug][0]})"))
    logins.append(DemoLogin(OPERATOR_EMAIL, "operator (Django admin)"))
    return logins


def _seed_tree(slug: str, name: str, clusters: dict) -> Tenant:
    tenant, _ = Tenant.objects.update_or_create(slug=slug, defaults={"name": name})
    for cluster_name, (pools, departments) in clusters.items():
        cluster, _ = Cluster.objects.get_or_create(
            tenant=tenant,
            name=cluster_name,
            defaults={"uuid": uuid.uuid5(_UUID_NAMESPACE, f"{slug}/{cluster_name}")},
        )
        cluster.ensure_default_nodepool()
        for pool in pools:
            NodePool.objects.get_or_create(cluster=cluster, name=pool)
        for department_name, projects in departments.items():
            department, _ = Department.objects.get_or_create(cluster=cluster, name=department_name)
            for project_name in projects:
                Project.objects.get_or_create(
                    cluster=cluster, name=project_name, defaults={"department": department}
                )
    return tenant


def _seed_user(email: str, full_name: str, tenant: Tenant | None, **flags) -> User:
    user, _ = User.objects.update_or_create(
        email=email, defaults={"full_name": full_name, "tenant": tenant, **flags}
    )
    user.set_password(DEMO_PASSWORD)
    user.save(update_fields=["password"])
    return user


def _seed_rule(user: User, role: Role, tenant: Tenant, scope: str) -> None:
    AccessRule.objects.get_or_create(
        tenant=tenant, user=user, role=role, **parse_scope(scope, tenant).rule_fields
    )
