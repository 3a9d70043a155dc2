"""Whether the task workers are getting through the work: for a supervisor's liveness probe."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.queue import worker_health


class Command(BaseCommand):
    help = (
        "Exits 0 when the task workers are working, 1 when work has waited longer than "
        "--stall-seconds and no task finished and no build beat its heartbeat meanwhile (for a "
        "liveness probe: restart the workers then)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stall-seconds",
            type=int,
            default=settings.WORKER_STALL_SECONDS,
            help="How long work may wait with nothing done (default: WORKER_STALL_SECONDS, "
            "%(default)s).",
        )

    def handle(self, *args, stall_seconds: int, **options):
        if stall_seconds <= 0:
            raise CommandError("--stall-seconds must be a positive number of seconds.")
        health = worker_health(stall_seconds)
        if not health.healthy:
            raise CommandError(health.describe(), returncode=1)
        self.stdout.write(health.describe())
