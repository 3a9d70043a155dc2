"""Report files against report rows: files of no report, and Ready reports without a file."""

from django.core.management.base import BaseCommand

from reports.files import check_files


class Command(BaseCommand):
    help = (
        "Lists report files that belong to no report and Ready reports whose file is missing. "
        "With --fix, deletes those files and marks those reports Failed with a message. "
        "(A schedule runs it with --fix every hour.)"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix", action="store_true", help="Delete the files and mark the reports Failed."
        )

    def handle(self, *args, fix: bool, **options):
        self.stdout.write(check_files(fix=fix).summary())
