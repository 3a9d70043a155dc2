"""`manage.py import_usage PATH --tenant SLUG [--skip-invalid]`: load usage samples."""

import sys
from contextlib import nullcontext

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consumption.importing import SHOWN_ERRORS, ImportRejected, ImportResult, import_usage
from consumption.parsing import FileError, format_for
from reports_site.tenancy.commands import tenant_by_slug


class Command(BaseCommand):
    help = (
        "Import usage samples from PATH, a CSV file (.csv, or - for CSV on standard input) or a "
        "JSON Lines file (.jsonl), into the tenant SLUG. Unknown clusters, node pools, "
        "departments and projects are created. By default one invalid row rejects the whole "
        "file; --skip-invalid imports the valid rows. Importing a sample again (same cluster, "
        "project, workload and start) replaces it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="PATH", help="a .csv or .jsonl file, or - for stdin")
        parser.add_argument("--tenant", required=True, metavar="SLUG")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and list the invalid ones, instead of rejecting the file",
        )

    def handle(self, *args, path: str, tenant: str, skip_invalid: bool, **options) -> None:
        tenant_obj = tenant_by_slug(tenant)
        try:
            fmt = format_for(path)
            with _open(path) as stream:
                result = import_usage(stream, fmt, tenant_obj, skip_invalid=skip_invalid)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
        except FileError as error:
            raise CommandError(f"{path}: {error} Nothing was imported.") from None
        except ImportRejected as rejected:
            self._list_errors(rejected.result)
            raise CommandError(
                f"{path}: {rejected.result.rejected} invalid row(s); nothing was imported. "
                "Fix them, or use --skip-invalid to import the valid rows."
            ) from None
        self._list_errors(result)
        self.stdout.write(
            f"{result.created} created, {result.replaced} replaced, {result.rejected} rejected."
        )

    def _list_errors(self, result: ImportResult) -> None:
        for error in result.errors:
            self.stderr.write(str(error))
        hidden = result.rejected - len({error.line for error in result.errors})
        if hidden > 0:
            self.stderr.write(f"... and {hidden} more invalid row(s) (first {SHOWN_ERRORS} shown).")


def _open(path: str):
    if path == "-":
        return nullcontext(sys.stdin.buffer)
    return open(path, "rb")
