"""factory-boy factories for the tenancy models and usage sources; each test builds the data it
needs."""

import factory
from factory.django import DjangoModelFactory

from consumption.models import UsageSource
from reports_site.tenancy.models import (
    AccessRule,
    Cluster,
    Department,
    NodePool,
    Project,
    Role,
    ScopeType,
    ServiceAccount,
    Tenant,
    User,
)

TEST_PASSWORD = "correct horse battery staple"


class TenantFactory(DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class ClusterFactory(DjangoModelFactory):
    class Meta:
        model = Cluster

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"cluster-{n}")


class NodePoolFactory(DjangoModelFactory):
    class Meta:
        model = NodePool

    cluster = factory.SubFactory(ClusterFactory)
    name = factory.Sequence(lambda n: f"pool-{n}")


class DepartmentFactory(DjangoModelFactory):
    class Meta:
        model = Department

    cluster = factory.SubFactory(ClusterFactory)
    name = factory.Sequence(lambda n: f"department-{n}")


class ProjectFactory(DjangoModelFactory):
    class Meta:
        model = Project

    department = factory.SubFactory(DepartmentFactory)
    cluster = factory.SelfAttribute("department.cluster")
    name = factory.Sequence(lambda n: f"project-{n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    tenant = factory.SubFactory(TenantFactory)
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class ServiceAccountFactory(DjangoModelFactory):
    class Meta:
        model = ServiceAccount

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"robot-{n}")
    secret_hash = factory.LazyFunction(lambda: "")


class UsageSourceFactory(DjangoModelFactory):
    class Meta:
        model = UsageSource

    tenant = factory.SubFactory(TenantFactory)
    cluster = factory.SubFactory(ClusterFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"prometheus-{n}")
    url = factory.LazyAttribute(lambda o: f"http://{o.name}.example:9090")


def grant(subject, role_name: str, scope) -> AccessRule:
    """Give `subject` the predefined role `role_name` on `scope` (a tenant or an org unit)."""
    role = Role.objects.get(name=role_name)
    fields = {"user": subject} if isinstance(subject, User) else {"service_account": subject}
    if isinstance(scope, Tenant):
        return AccessRule.objects.create(
            tenant=scope, role=role, scope_type=ScopeType.TENANT, **fields
        )
    scope_type = {
        Cluster: ScopeType.CLUSTER,
        Department: ScopeType.DEPARTMENT,
        Project: ScopeType.PROJECT,
    }[type(scope)]
    tenant = scope.tenant if isinstance(scope, Cluster) else scope.cluster.tenant
    return AccessRule.objects.create(
        tenant=tenant, role=role, scope_type=scope_type, **{scope_type: scope}, **fields
    )
