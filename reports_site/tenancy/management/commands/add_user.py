"""`manage.py add_user --tenant SLUG EMAIL`: add a person who logs in to a tenant."""

import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from reports_site.tenancy.commands import tenant_by_slug
from reports_site.tenancy.models import User


class Command(BaseCommand):
    help = (
        "Create a user of a tenant, who logs in with EMAIL and a password. Without --password a "
        "strong password is generated and printed once. The user holds no access rules yet: give "
        "them a role with the grant command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", metavar="EMAIL", help="the login e-mail address")
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="the user's tenant")
        parser.add_argument(
            "--password",
            help="the password to set (it may stay in your shell history; omit it to generate one)",
        )
        parser.add_argument("--name", default="", help="full name, e.g. 'Alice Smith'")

    def handle(
        self, *args, email: str, tenant: str, password: str | None, name: str, **options
    ) -> None:
        tenant_obj = tenant_by_slug(tenant)
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not a valid e-mail address.") from None
        full_name = name.strip()
        max_name = User._meta.get_field("full_name").max_length
        if len(full_name) > max_name:
            raise CommandError(f"The name is too long: at most {max_name} characters.")

        generated = password is None
        if generated:
            password = secrets.token_urlsafe(18)
        else:
            try:
                validate_password(password, User(email=email, full_name=full_name))
            except ValidationError as error:
                raise CommandError(f"Weak password: {' '.join(error.messages)}") from None

        taken = CommandError(f"A user with the e-mail {email!r} already exists.")
        try:
            with transaction.atomic():
                # Logins ignore letter case, so Alice@… and alice@… would be the same person.
                if User.objects.filter(email__iexact=email).exists():
                    raise taken
                user = User.objects.create_user(
                    email, password, tenant=tenant_obj, full_name=full_name
                )
        except IntegrityError:
            raise taken from None
        self.stdout.write(f"Created user {user.email} in tenant {tenant_obj.slug}.")
        if generated:
            self.stdout.write(f"Password: {password}")
            self.stdout.write("Pass it on safely: it is not stored and cannot be shown again.")
