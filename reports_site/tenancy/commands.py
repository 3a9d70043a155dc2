"""What the operators' management commands share."""

from datetime import UTC, date, datetime, timedelta

from django.core.management.base import CommandError

from .models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    """The tenant named on the command line, or a CommandError that says it does not exist."""
    try:
        return Tenant.objects.get(slug=slug)
    except Tenant.DoesNotExist:
        raise CommandError(f"Tenant {slug!r} does not exist.") from None


def moment_option(option: str, text: str, *, end: bool = False) -> datetime:
    """An ISO 8601 date or a date and time with a time zone, typed for `option`; a CommandError
    naming the option otherwise. A bare date is a whole UTC day, as in the pages' forms: as a
    start its midnight, as an `end` the midnight after it, so that the end date is included. A
    date and time is that exact instant (an end excluded, as in the API)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"{option}: {text!r} is not an ISO 8601 date or time, e.g. 2026-03-01 or "
            "2026-03-01T10:00Z."
        ) from None
    if moment.tzinfo is None:
        raise CommandError(f"{option}: {text!r} has no time zone; add Z or an offset.")
    return moment
