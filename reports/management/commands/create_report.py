"""`manage.py create_report`: a report made from the command line, by the same path as the
pages and the API, so that the same permissions and rules apply."""

import time
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumption.buckets import DEFAULT_TIME_ZONE, Bucket
from consumption.measures import GROUP_BY, Segment
from reports.models import Report, ReportStatus
from reports.services import create_report
from reports_site.tenancy.commands import moment_option, tenant_by_slug
from reports_site.tenancy.models import ServiceAccount, Tenant, User


class Command(BaseCommand):
    help = (
        "Create a consumption report as a user (--as EMAIL) or a service account (--as sa:NAME) "
        "of a tenant. --start and --end are ISO 8601 dates or times: a bare date is a whole "
        "UTC day, the end date included (--start 2026-03-01 --end 2026-03-31 is March); a date "
        "and time is that instant, the end excluded. With --wait, wait until the report is "
        "Ready or Failed; with --output, also write its CSV to FILE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument("--as", required=True, dest="subject", metavar="EMAIL|sa:NAME")
        parser.add_argument("--name", required=True)
        parser.add_argument("--description", default="")
        parser.add_argument("--start", required=True, metavar="ISO")
        parser.add_argument("--end", required=True, metavar="ISO")
        parser.add_argument("--group-by", choices=GROUP_BY, default=Segment.PROJECT)
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            dest="filters",
            metavar="FIELD==VALUE",
            help="projectName==X, departmentName==X or clusterId==UUID; repeat for more",
        )
        parser.add_argument(
            "--bucket", choices=Bucket.values, help="rows per Day, Week or Month (default: none)"
        )
        parser.add_argument(
            "--time-zone",
            default=DEFAULT_TIME_ZONE,
            metavar="ZONE",
            help="the IANA zone of the buckets' days (default UTC)",
        )
        parser.add_argument(
            "--costs", action="store_true", help="add cost columns at the tenant's prices"
        )
        parser.add_argument("--wait", action="store_true", help="wait until it is built")
        parser.add_argument("--output", metavar="FILE", help="write the CSV here (implies --wait)")
        parser.add_argument(
            "--timeout", type=int, default=600, help="seconds to wait at most (default 600)"
        )

    def handle(self, *args, **options) -> None:
        tenant = tenant_by_slug(options["tenant"])
        subject = _subject(tenant, options["subject"])
        try:
            report = create_report(
                subject,
                name=options["name"],
                description=options["description"],
                start=moment_option("--start", options["start"]),
                end=moment_option("--end", options["end"], end=True),
                group_by=options["group_by"],
                filter_by=options["filters"],
                bucket=options["bucket"],
                time_zone=options["time_zone"],
                costs=options["costs"],
            )
        except PermissionDenied as denied:
            raise CommandError(str(denied)) from None
        except ValidationError as invalid:
            problems = "; ".join(
                f"{field.replace('_', '-')}: {' '.join(messages)}"
                for field, messages in invalid.message_dict.items()
            )
            raise CommandError(f"The report was not created. {problems}") from None
        self.stdout.write(f"Created report {report.pk} ({report.name}): {report.status}.")
        if not (options["wait"] or options["output"]):
            return
        report = self._wait(report, options["timeout"])
        if report.status == ReportStatus.FAILED:
            raise CommandError(f"The report failed: {report.status_message}")
        self.stdout.write(f"Ready: {report.row_count} row(s), {report.file_size} bytes.")
        if options["output"]:
            with default_storage.open(report.file.name, "rb") as source:
                Path(options["output"]).write_bytes(source.read())
            self.stdout.write(f"Wrote {options['output']}.")

    def _wait(self, report: Report, timeout: int) -> Report:
        deadline = time.monotonic() + timeout
        while report.status not in (ReportStatus.READY, ReportStatus.FAILED):
            if time.monotonic() > deadline:
                raise CommandError(
                    f"The report is still {report.status} after {timeout} s. Is a worker "
                    "(`manage.py qcluster`) running?"
                )
            time.sleep(0.5)
            report.refresh_from_db()
        return report


def _subject(tenant: Tenant, text: str) -> User | ServiceAccount:
    if text.startswith("sa:"):
        account = ServiceAccount.objects.filter(tenant=tenant, name=text[3:]).first()
        if account is None:
            raise CommandError(f"Service account {text[3:]!r} not found in tenant {tenant.slug}.")
        return account
    user = User.objects.filter(tenant=tenant, email__iexact=text.strip()).first()
    if user is None:
        raise CommandError(f"User {text!r} not found in tenant {tenant.slug}.")
    return user
