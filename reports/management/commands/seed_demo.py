import tempfile

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumption.importing import import_usage
from consumption.synthetic import last_days, placements_of, usage_rows, write_csv
from reports.demo import seed_demo_reports
from reports_site.tenancy.demo import DEMO_PASSWORD, demo_logins, seed_demo_org
from reports_site.tenancy.models import Tenant


class Command(BaseCommand):
    help = (
        "Create the demo tenants, their clusters, node pools, departments and projects, users of "
        "several roles, hourly usage of their workloads over the last days and a few reports; then "
        "print the logins. Safe to run again: nothing is duplicated (samples of the same workload "
        "and hour are replaced, reports of the same name kept). With --logins, only print them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=14, help="days of usage, up to now (default 14)"
        )
        parser.add_argument(
            "--workloads", type=int, default=36, help="workloads of the demo tenant (default 36)"
        )
        parser.add_argument(
            "--logins", action="store_true", help="only print the demo logins (make run does)"
        )

    def handle(self, *args, days: int, workloads: int, logins: bool, **options) -> None:
        if logins:
            self._print_logins()
            return
        if not 1 <= days <= 400:
            raise CommandError("--days must be from 1 to 400.")
        if not 1 <= workloads <= 10_000:
            raise CommandError("--workloads must be from 1 to 10000.")
        seed_demo_org()
        start, hours = last_days(days)
        for slug, count in [("demo", workloads), ("other", max(1, workloads // 6))]:
            tenant = Tenant.objects.get(slug=slug)
            rows = usage_rows(placements_of(tenant), workloads=count, start=start, hours=hours)
            # Through a file and the importer, like real usage data.
            with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as file:
                write_csv(rows, file)
                file.seek(0)
                result = import_usage(file.buffer, "csv", tenant)
            self.stdout.write(
                f"Usage of {tenant.name}: {result.created} samples created, "
                f"{result.replaced} replaced, over {days} day(s)."
            )

        made = seed_demo_reports()
        self.stdout.write(f"Reports of the demo: {len(made)} made.")
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        if options["verbosity"] > 0:  # make run seeds at 0, then prints the logins on each start
            self._print_logins()

    def _print_logins(self) -> None:
        self.stdout.write("Log in at /accounts/login/ as:")
        logins = demo_logins()
        width = max(len(login.email) for login in logins)
        for login in logins:
            self.stdout.write(f"  {login.email:<{width}}  {login.role}")
        self.stdout.write(f"Every demo user's password is: {DEMO_PASSWORD}")
