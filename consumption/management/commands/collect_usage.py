"""`manage.py collect_usage [--tenant SLUG] [--source NAME] [--start ISO] [--end ISO]`: collect
usage from the sources' Prometheus, whole UTC hours at a time."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from consumption.collector import Collection, collect, collection_lock, last_complete_hour
from consumption.models import UsageSource
from reports_site.tenancy.commands import moment_option, tenant_by_slug

SHOWN_PODS = 5


class Command(BaseCommand):
    help = (
        "Collect usage from every enabled usage source (or those chosen), whole UTC hours: from "
        "the source's collected-until (its first hour before the first run) up to the last hour "
        "that ended at least the source's lag ago. Collecting hours again replaces what the "
        "source wrote for them. A source that fails is reported and the others are still "
        "collected; the command then exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", metavar="SLUG", help="only this tenant's sources")
        parser.add_argument(
            "--source",
            metavar="NAME",
            help="only the source of this name (collected even when disabled)",
        )
        parser.add_argument(
            "--start",
            metavar="ISO",
            help="the first hour to collect, e.g. 2026-03-01T10:00Z (default: collected-until)",
        )
        parser.add_argument(
            "--end",
            metavar="ISO",
            help="the hour to stop before, or a date to collect to its end (default: the last "
            "complete hour less the lag)",
        )

    def handle(self, *args, tenant, source, start, end, **options) -> None:
        start_at = _hour("--start", start) if start else None
        end_at = _hour("--end", end, end=True) if end else None
        if start_at and end_at and start_at >= end_at:
            raise CommandError("--start must be before --end.")
        sources = UsageSource.objects.select_related("tenant", "cluster")
        if tenant:
            sources = sources.filter(tenant=tenant_by_slug(tenant))
        # A source named on the command line is collected even when disabled.
        chosen = Q(name__iexact=source) if source else Q(enabled=True)
        sources = sources.filter(chosen)
        sources = list(sources.order_by("tenant__slug", "name"))
        if source and not sources:
            raise CommandError(f"No usage source named {source!r}{_in(tenant)}.")
        if not sources:
            self.stdout.write(f"No enabled usage source{_in(tenant)}.")
            return

        failed = []
        for one in sources:
            if not self._collect(one, start_at, end_at):
                failed.append(one.name)
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(sources)} source(s) failed: {', '.join(failed)}. Their "
                "errors are above and recorded on each source; the next run tries again."
            )

    def _collect(self, source: UsageSource, start: datetime | None, end: datetime | None) -> bool:
        """Collects one source; False when it failed."""
        name = f"{source.tenant.slug}/{source.name}"
        first = start or source.collected_until or source.start
        until = end or last_complete_hour(source, timezone.now())
        if first >= until:
            self.stdout.write(f"{name}: nothing to collect; collected up to {_show(first)}.")
            return True
        with collection_lock(source) as held:
            if not held:
                self.stdout.write(f"{name}: skipped, another run is collecting it.")
                return True
            try:
                done = collect(source, first, until)
            except Exception:
                self.stderr.write(f"{name}: {source.last_error}")
                return False
        self._report(name, first, until, done)
        return True

    def _report(self, name: str, first: datetime, until: datetime, done: Collection) -> None:
        self.stdout.write(
            f"{name}: {_show(first)} to {_show(until)}: {done.hours} hour(s), "
            f"{done.samples} sample(s) written, {done.replaced} replaced."
        )
        for pods, what in ((done.excluded, "excluded namespaces"), (done.unmapped, "no project")):
            if pods:
                shown = ", ".join(f"{ns}/{pod}" for ns, pod in sorted(pods)[:SHOWN_PODS])
                more = f" and {len(pods) - SHOWN_PODS} more" if len(pods) > SHOWN_PODS else ""
                self.stdout.write(f"  {len(pods)} pod(s) skipped ({what}): {shown}{more}")
        for warning in done.warnings:
            self.stderr.write(f"  {warning}")


def _hour(option: str, text: str, *, end: bool = False) -> datetime:
    """A whole UTC hour from an ISO 8601 date (a whole day, an end date included) or a date and
    time with a time zone."""
    moment = moment_option(option, text, end=end).astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise CommandError(f"{option}: {text!r} is not a whole hour; usage is collected by hour.")
    return moment


def _show(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _in(tenant: str | None) -> str:
    return f" in tenant {tenant}" if tenant else ""
