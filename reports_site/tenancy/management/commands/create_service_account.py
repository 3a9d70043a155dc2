"""`manage.py create_service_account --tenant SLUG NAME`: add a machine identity for the API."""

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError, transaction

from reports_site.tenancy.commands import tenant_by_slug
from reports_site.tenancy.models import ServiceAccount


class Command(BaseCommand):
    help = (
        "Create a service account of a tenant and print its client id and secret, which it "
        "exchanges for an API token (POST /api/v1/token). Only a hash of the secret is stored: "
        "it is shown this once. Give the account a role with: grant sa:NAME --role ROLE --scope "
        "SCOPE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="unique within the tenant, e.g. ci-bot")
        parser.add_argument("--tenant", required=True, metavar="SLUG", help="the account's tenant")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help='print only {"name", "clientId", "clientSecret", "tenant"} as one JSON object',
        )

    def handle(self, *args, name: str, tenant: str, as_json: bool, **options) -> None:
        tenant_obj = tenant_by_slug(tenant)
        name = name.strip()
        if not name:
            raise CommandError("The service account name must not be empty.")
        max_name = ServiceAccount._meta.get_field("name").max_length
        if len(name) > max_name:
            raise CommandError(
                f"The service account name is too long: at most {max_name} characters."
            )

        taken = CommandError(
            f"Service account {name!r} already exists in tenant {tenant_obj.slug}."
        )
        try:
            with transaction.atomic():
                if ServiceAccount.objects.filter(tenant=tenant_obj, name=name).exists():
                    raise taken
                account = ServiceAccount(tenant=tenant_obj, name=name)
                secret = account.set_new_secret()
                account.save()
        except IntegrityError:
            raise taken from None

        if as_json:
            # Exactly one object on stdout, so that scripts can parse it.
            self.stdout.write(
                json.dumps(
                    {
                        "name": account.name,
                        "clientId": account.client_id,
                        "clientSecret": secret,
                        "tenant": tenant_obj.slug,
                    }
                )
            )
            return
        self.stdout.write(f"Created service account {account.name} in tenant {tenant_obj.slug}.")
        self.stdout.write(f"Client ID:     {account.client_id}")
        self.stdout.write(f"Client secret: {secret}")
        self.stdout.write("Store the secret now: it cannot be shown again.")
