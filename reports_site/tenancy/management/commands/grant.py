"""`manage.py grant SUBJECT --role ROLE --scope SCOPE`: give a user or service account a role."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction

from reports_site.tenancy.commands import tenant_by_slug
from reports_site.tenancy.models import AccessRule, Role, ServiceAccount, Tenant, User
from reports_site.tenancy.scopes import SCOPE_FORMS, parse_scope


class Command(BaseCommand):
    help = (
        "Give SUBJECT (a user's e-mail, or sa:NAME for a service account) a role in a scope of "
        "its own tenant, by adding an access rule. ROLE is a role name, e.g. 'L1 researcher' "
        f"(letter case ignored). SCOPE is one of: {', '.join(SCOPE_FORMS)}, e.g. "
        "project:east/vision. Names are looked up in the subject's tenant only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "subject", metavar="SUBJECT", help="a user's e-mail, or sa:NAME for a service account"
        )
        parser.add_argument("--role", required=True, help="a role name, e.g. 'L1 researcher'")
        parser.add_argument("--scope", required=True, help=f"one of: {', '.join(SCOPE_FORMS)}")
        parser.add_argument(
            "--tenant",
            metavar="SLUG",
            help="look the subject up in this tenant only (needed for a service account name "
            "that several tenants use)",
        )

    def handle(
        self, *args, subject: str, role: str, scope: str, tenant: str | None, **options
    ) -> None:
        tenant_obj = tenant_by_slug(tenant) if tenant is not None else None
        if subject.startswith("sa:"):
            subject_obj = _service_account(subject.removeprefix("sa:"), tenant_obj)
        else:
            subject_obj = _user(subject, tenant_obj)
        role_obj = _role(role)
        try:
            scope_obj = parse_scope(scope, subject_obj.tenant)
        except ValueError as error:
            raise CommandError(str(error)) from None

        subject_field = "user" if isinstance(subject_obj, User) else "service_account"
        fields = {
            "tenant": subject_obj.tenant,
            subject_field: subject_obj,
            "role": role_obj,
            **scope_obj.rule_fields,
        }
        rule = AccessRule(**fields)
        exists = CommandError(f"{subject_obj} is already {role_obj} in {rule.scope_label}.")
        try:
            with transaction.atomic():
                rule.save()
        except IntegrityError:  # the database's one-rule-per-subject-role-scope constraint
            raise exists from None
        self.stdout.write(f"{subject_obj} is now {role_obj} in {rule.scope_label}.")


def _user(email: str, tenant: Tenant | None) -> User:
    user = User.objects.filter(email__iexact=email.strip()).select_related("tenant").first()
    if tenant is not None and (user is None or user.tenant_id != tenant.pk):
        raise CommandError(f"User {email!r} not found in tenant {tenant.slug}.")
    if user is None:
        raise CommandError(f"User {email!r} not found.")
    if user.tenant is None:
        raise CommandError(
            f"User {user.email} has no tenant: operators cannot be granted tenant roles."
        )
    return user


def _service_account(name: str, tenant: Tenant | None) -> ServiceAccount:
    if not name:
        raise CommandError("Missing service account name: write sa:NAME.")
    accounts = ServiceAccount.objects.filter(name=name).select_related("tenant")
    if tenant is not None:
        accounts = accounts.filter(tenant=tenant)
    found = list(accounts.order_by("tenant__slug")[:100])
    if not found:
        where = f" in tenant {tenant.slug}" if tenant is not None else ""
        raise CommandError(f"Service account {name!r} not found{where}.")
    if len(found) > 1:
        slugs = ", ".join(account.tenant.slug for account in found)
        raise CommandError(
            f"Service account {name!r} exists in several tenants ({slugs}); choose one with "
            "--tenant SLUG."
        )
    return found[0]


def _role(name: str) -> Role:
    # An exact match wins, so that roles differing only in letter case stay reachable.
    roles = list(Role.objects.filter(name__iexact=name.strip()))
    exact = [role for role in roles if role.name == name.strip()]
    if len(roles) == 1 or len(exact) == 1:
        return (exact or roles)[0]
    available = ", ".join(Role.objects.values_list("name", flat=True))
    if roles:
        raise CommandError(
            f"Role {name!r} is ambiguous: {', '.join(r.name for r in roles)}. Available roles: "
            f"{available}."
        )
    raise CommandError(f"Unknown role {name!r}. Available roles: {available}.")
