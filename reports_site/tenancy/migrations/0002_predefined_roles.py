"""The predefined roles, named as Run:ai shows them. Operators may edit them in the admin."""

from django.db import migrations

ALL_RESOURCES = [
    "tenant",
    "cluster",
    "nodepools",
    "department",
    "project",
    "users",
    "service-account",
    "access_rules",
    "dashboards-consumption",
]
ALL_ACTIONS = ["create", "read", "update", "delete"]

PREDEFINED_ROLES = {
    "System administrator": {resource: ALL_ACTIONS for resource in ALL_RESOURCES},
    "Department administrator": {
        "department": ALL_ACTIONS,
        "project": ALL_ACTIONS,
        "cluster": ["read"],
        "nodepools": ["read"],
    },
    "Editor": {
        resource: ["read", "update"] for resource in ["department", "project", "cluster", "nodepools"]
    },
    "Research manager": {"project": ["read"], "department": ["read"]},
    "L1 researcher": {"project": ["read"]},
    "ML engineer": {"project": ["read"]},
    "Viewer": {resource: ["read"] for resource in ALL_RESOURCES},
}


def create_roles(apps, schema_editor):
    Role = apps.get_model("tenancy", "Role")
    RolePermission = apps.get_model("tenancy", "RolePermission")
    for name, permissions in PREDEFINED_ROLES.items():
        role, _ = Role.objects.get_or_create(name=name)
        for resource, actions in permissions.items():
            RolePermission.objects.update_or_create(
                role=role,
                resource=resource,
                defaults={f"can_{action}": action in actions for action in ALL_ACTIONS},
            )


def remove_roles(apps, schema_editor):
    Role = apps.get_model("tenancy", "Role")
    Role.objects.filter(name__in=PREDEFINED_ROLES, access_rules__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [migrations.RunPython(create_roles, remove_roles)]
