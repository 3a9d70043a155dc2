"""What the operators' management commands share."""

from django.core.management.base import CommandError

from .models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    """The tenant named on the command line, or a CommandError that says it does not exist."""
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise CommandError(f"Tenant {slug!r} does not exist.") from None
