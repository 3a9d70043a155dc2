"""`manage.py set_price`: a tenant's price for one resource, from a moment on."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from consumption.models import Price, Resource
from reports_site.tenancy.commands import moment_option, tenant_by_slug
from reports_site.tenancy.models import NodePool, Tenant


class Command(BaseCommand):
    help = (
        "Set a tenant's price per GPU-hour (gpu), CPU core-hour (cpu) or GiB-hour of CPU memory "
        "(memory) allocated, in one node pool or as the tenant's default, from a moment on (now "
        "unless said). Setting a price for the same moment again replaces it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument("--resource", required=True, choices=Resource.values)
        parser.add_argument("--price", required=True, metavar="AMOUNT")
        parser.add_argument("--currency", required=True, metavar="CODE", help="e.g. EUR or USD")
        parser.add_argument(
            "--nodepool",
            metavar="[CLUSTER/]NAME",
            help="the node pool it holds in (default: the tenant's default price)",
        )
        parser.add_argument(
            "--from",
            dest="valid_from",
            metavar="ISO",
            help="when it starts to hold: a date (its UTC midnight) or a time with a zone",
        )

    def handle(self, *args, **options) -> None:
        tenant = tenant_by_slug(options["tenant"])
        valid_from = (
            moment_option("--from", options["valid_from"])
            if options["valid_from"]
            else timezone.now()
        ).replace(microsecond=0)
        try:
            amount = Decimal(options["price"].strip())
        except InvalidOperation:
            raise CommandError(f"--price: {options['price']!r} is not a number.") from None
        pool = _nodepool(tenant, options["nodepool"]) if options["nodepool"] else None
        with transaction.atomic():
            price = Price.objects.filter(
                tenant=tenant, resource=options["resource"], nodepool=pool, valid_from=valid_from
            ).first() or Price(
                tenant=tenant, resource=options["resource"], nodepool=pool, valid_from=valid_from
            )
            price.amount, price.currency = amount, options["currency"].strip().upper()
            try:
                price.full_clean()
            except ValidationError as invalid:
                problems = "; ".join(
                    f"--{'price' if field == 'amount' else field}: {' '.join(messages)}"
                    for field, messages in invalid.message_dict.items()
                )
                raise CommandError(f"The price was not set. {problems}") from None
            price.save()
        self.stdout.write(f"Set {tenant.slug}'s price: {price}.")


def _nodepool(tenant: Tenant, text: str) -> NodePool:
    """The tenant's node pool named NAME, or CLUSTER/NAME where several clusters have one."""
    cluster, _, name = text.strip().rpartition("/")
    pools = NodePool.objects.filter(cluster__tenant=tenant, name=name).select_related("cluster")
    if cluster:
        pools = pools.filter(cluster__name=cluster)
    found = list(pools)
    if not found:
        raise CommandError(f"--nodepool: {tenant.slug} has no node pool {text!r}.")
    if len(found) > 1:
        clusters = ", ".join(sorted(f"{pool.cluster.name}/{name}" for pool in found))
        raise CommandError(f"--nodepool: {name!r} is in several clusters; give one of {clusters}.")
    return found[0]
