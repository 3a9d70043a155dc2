"""`manage.py create_tenant SLUG --name NAME`: add an organisation."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction

from reports_site.tenancy.models import Tenant

# Stricter than Django's validate_slug (no capitals or underscores, no hyphen at either end) so
# that a slug also reads well in URLs and host names; every slug it accepts fits a SlugField.
validate_tenant_slug = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z",
    "must be lowercase letters, digits and hyphens, starting and ending with a letter or digit",
)


class Command(BaseCommand):
    help = (
        "Create a tenant (an organisation). SLUG is its unique short name: lowercase letters, "
        "digits and hyphens, e.g. 'acme'. Example: create_tenant acme --name 'Acme Corp'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", metavar="SLUG", help="unique short name, e.g. acme")
        parser.add_argument("--name", required=True, help="display name, e.g. 'Acme Corp'")

    def handle(self, *args, slug: str, name: str, **options) -> None:
        slug_field = Tenant._meta.get_field("slug")
        try:
            validate_tenant_slug(slug)
        except ValidationError as error:
            raise CommandError(f"Invalid slug {slug!r}: {error.messages[0]}.") from None
        if len(slug) > slug_field.max_length:
            raise CommandError(
                f"Invalid slug {slug!r}: at most {slug_field.max_length} characters are allowed."
            )
        name = name.strip()
        if not name:
            raise CommandError("The tenant name must not be empty.")
        max_name = Tenant._meta.get_field("name").max_length
        if len(name) > max_name:
            raise CommandError(f"The tenant name is too long: at most {max_name} characters.")

        taken = CommandError(f"Tenant {slug!r} already exists.")
        try:
            with transaction.atomic():
                if Tenant.objects.filter(slug=slug).exists():
                    raise taken
                tenant = Tenant.objects.create(slug=slug, name=name)
        except IntegrityError:
            # Another process created the same slug between the check and the insert.
            raise taken from None
        self.stdout.write(f"Created tenant {tenant.slug} (id {tenant.pk}).")
